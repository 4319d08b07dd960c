// nodeapp is bpm's Node test fixture: no dependencies, behaviour chosen by
// environment variables (see testdata/README.md). On SIGTERM it stops accepting,
// lets in-flight requests finish and exits 0.
'use strict';

const http = require('node:http');
const net = require('node:net');

const EXIT_AFTER_CODE = 3; // FIXTURE_EXIT_AFTER_MS elapsed
const SETUP_FAILED_CODE = 4; // bad FIXTURE_* value or unusable listener
// How long a draining server waits for the first request of a just-accepted connection.
const FRESH_GRACE_MS = 1000;

const pid = process.pid;
const env = process.env;

function fail(msg) {
  process.stderr.write(`nodeapp: ${msg}\n`);
  process.exit(SETUP_FAILED_CODE);
}

function envMs(key) {
  const v = env[key];
  if (v === undefined) return 0;
  const ms = Number(v.trim());
  if (!Number.isInteger(ms) || ms <= 0) {
    fail(`${key}=${JSON.stringify(v)} is not a positive number of milliseconds`);
  }
  return ms;
}

// listenTarget returns what server.listen takes: the inherited fd 3 when
// LISTEN_FDS=1 (systemd socket activation), else FIXTURE_LISTEN, else null.
function listenTarget() {
  if (env.LISTEN_FDS === '1') {
    // systemd semantics: the fds are meant for LISTEN_PID only.
    if (env.LISTEN_PID !== undefined && env.LISTEN_PID !== String(pid)) {
      fail(`LISTEN_PID=${env.LISTEN_PID} is not my pid ${pid}; refusing fd 3`);
    }
    return { fd: 3 };
  }
  const addr = env.FIXTURE_LISTEN;
  if (addr === undefined) return null;
  const i = addr.lastIndexOf(':');
  const port = Number(addr.slice(i + 1));
  if (i < 0 || !Number.isInteger(port)) fail(`FIXTURE_LISTEN=${JSON.stringify(addr)} is not host:port`);
  const host = addr.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  return host === '' ? { port } : { host, port };
}

// serve answers every request with 200 and `pid=<pid>\n` after delayMs. Its drain
// stops accepting and exits through done once every connection has ended,
// without dropping a request the client already sent: http.Server.close() would
// also destroy connections whose first request is not parsed yet, and it lets
// busy keep-alive connections go on serving for ever.
function serve(target, delayMs) {
  const body = `pid=${pid}\n`;
  const conns = new Map(); // socket -> 'fresh' (no request yet) | 'active' | 'idle'
  let draining = false;
  const server = http.createServer((req, res) => {
    const sock = req.socket;
    conns.set(sock, 'active');
    res.on('finish', () => {
      if (!conns.has(sock)) return;
      if (draining) sock.end(); // a response begun before the drain had no Connection: close
      else conns.set(sock, 'idle');
    });
    req.resume();
    req.on('end', () => {
      setTimeout(() => {
        const headers = { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) };
        if (draining) headers.Connection = 'close';
        res.writeHead(200, headers);
        res.end(body);
      }, delayMs);
    });
  });
  server.on('connection', (sock) => {
    conns.set(sock, 'fresh');
    sock.on('close', () => conns.delete(sock));
  });
  server.on('error', (err) => fail(`listen ${JSON.stringify(target)}: ${err.message}`));
  server.listen(target, () => {
    const a = server.address();
    const where = a && typeof a === 'object' ? `${a.address}:${a.port}` : String(a);
    console.log(`nodeapp listening addr=${where}`);
  });
  const drain = (done) => {
    draining = true;
    net.Server.prototype.close.call(server, done);
    for (const [sock, state] of conns) {
      if (state === 'idle') sock.end();
      if (state === 'fresh') setTimeout(() => conns.get(sock) === 'fresh' && sock.end(), FRESH_GRACE_MS);
    }
  };
  return drain;
}

console.log(`nodeapp started pid=${pid} node=${process.version}`);
process.stderr.write('nodeapp stderr hello\n');
if (env.FIXTURE_ECHO !== undefined) console.log(`echo=${env.FIXTURE_ECHO}`);

const target = listenTarget();
const drain = target ? serve(target, envMs('FIXTURE_DELAY_MS')) : null;

const tickMs = envMs('FIXTURE_TICK_MS');
if (tickMs) {
  let n = 0;
  setInterval(() => console.log(`tick ${++n}`), tickMs);
}

const exitAfterMs = envMs('FIXTURE_EXIT_AFTER_MS');
if (exitAfterMs) {
  setTimeout(() => {
    console.log(`nodeapp exiting code=${EXIT_AFTER_CODE}`);
    process.exit(EXIT_AFTER_CODE);
  }, exitAfterMs);
}

// Stay alive until told otherwise, even with no server or timers.
setInterval(() => {}, 1 << 30);

process.on('SIGTERM', () => {
  console.log('nodeapp SIGTERM: shutting down');
  if (!drain) process.exit(0);
  drain(() => {
    console.log('nodeapp stopped');
    process.exit(0);
  });
});
