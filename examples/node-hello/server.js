// A Node web server that takes bpm's `listen` socket (fd 3) when bpm hands
// it over and drains on SIGTERM without dropping a request, so bpm can
// restart it under load. Run it through bpm: go run . examples/node-hello
'use strict';
const http = require('node:http');
const net = require('node:net');

let draining = false;
const sockets = new Map(); // socket -> 'fresh' (no request yet) | 'busy' | 'idle'

const server = http.createServer((req, res) => {
  sockets.set(req.socket, 'busy');
  // While draining, tell keep-alive clients this connection ends here.
  if (draining) res.setHeader('Connection', 'close');
  res.on('finish', () => {
    if (!sockets.has(req.socket)) return;
    if (draining) req.socket.end();
    else sockets.set(req.socket, 'idle');
  });
  console.log(`${req.method} ${req.url}`);
  res.end(`Hello from node, pid ${process.pid}\n`);
});
server.on('connection', (socket) => {
  sockets.set(socket, 'fresh');
  socket.on('close', () => sockets.delete(socket));
});

// LISTEN_FDS=1: bpm (like systemd) passed the listening socket as fd 3.
const target = process.env.LISTEN_FDS === '1' ? { fd: 3 } : { host: '127.0.0.1', port: 8081 };
server.listen(target, () => console.log(`listening (${target.fd === 3 ? 'fd 3 from bpm' : 'port 8081'})`));

// SIGTERM: stop accepting and exit once every connection has ended. Not
// server.close(): since Node 19 it also closes connections whose first
// request has not been read yet, dropping a request the client already sent.
process.on('SIGTERM', () => {
  console.log('shutting down');
  draining = true;
  net.Server.prototype.close.call(server, () => process.exit(0));
  for (const [socket, state] of sockets) {
    if (state === 'idle') socket.end();
    // A just-accepted connection gets a moment for its first request.
    if (state === 'fresh') setTimeout(() => sockets.get(socket) === 'fresh' && socket.end(), 1000);
  }
});
