// A Node web server that takes bpm's `listen` socket (fd 3) when bpm hands
// it over and drains in-flight requests on SIGTERM, so bpm can restart it
// without refusing a request. Run it through bpm: go run . examples/node-hello
'use strict';
const http = require('node:http');

const server = http.createServer((req, res) => {
  console.log(`${req.method} ${req.url}`);
  res.end(`Hello from node, pid ${process.pid}\n`);
});

// LISTEN_FDS=1: bpm (like systemd) passed the listening socket as fd 3.
const target = process.env.LISTEN_FDS === '1' ? { fd: 3 } : { host: '127.0.0.1', port: 8081 };
server.listen(target, () => console.log(`listening (${target.fd === 3 ? 'fd 3 from bpm' : 'port 8081'})`));

// Stop accepting, let in-flight requests finish, then exit 0.
process.on('SIGTERM', () => {
  console.log('shutting down');
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});
