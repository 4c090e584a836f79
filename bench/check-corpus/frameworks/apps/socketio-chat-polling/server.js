const http = require('node:http');
const fs = require('node:fs');
const { Server } = require('socket.io');
const transports = process.env.CLIENT_TRANSPORTS || (fs.existsSync(__dirname + '/.websocket-only') ? 'websocket' : '');
const html = fs.readFileSync(__dirname + '/index.html', 'utf8').replace('__OPTS__', transports ? JSON.stringify({ transports: transports.split(',') }) : '{}');
const server = http.createServer((req, res) => {
  if (req.url === '/' || req.url === '/index.html') { res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }); res.end(html); return; }
  res.writeHead(404, { 'content-type': 'text/plain' }); res.end('not found');
});
const io = new Server(server); // default: polling + websocket, no adapter
io.on('connection', (socket) => {
  socket.on('join', (name, ack) => { socket.data.name = name; io.emit('system', `${name} joined`); ack?.({ ok: true }); });
  socket.on('chat', (text) => io.emit('chat', { from: socket.data.name ?? 'anon', text }));
});
server.listen(Number(process.env.PORT), '127.0.0.1');
