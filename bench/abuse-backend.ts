/**
 * The app server of `npm run bench:abuse`: small answers, `/big?mb=N` streams N MiB with
 * backpressure, `/upload` reads a body to its end, and a WebSocket on `/flood` sends 64 KiB
 * frames as fast as the socket takes them (bounded per connection). Prints its port.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

const chunk = Buffer.alloc(64 * 1024, 'z');
const server = createServer((req, res) => {
  const url = new URL(req.url!, 'http://x');
  req.resume();
  if (url.pathname !== '/big') return void req.on('end', () => res.end('ok'));
  const total = Number(url.searchParams.get('mb') ?? 1) * 1024 * 1024;
  res.writeHead(200, { 'content-length': total });
  let written = 0;
  const pump = (): void => {
    while (written < total) {
      written += chunk.length;
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
    res.end();
  };
  pump();
});
const wss = new WebSocketServer({ server, path: '/flood' });
wss.on('connection', (ws) => {
  let sent = 0;
  const limit = 256 * 1024 * 1024;
  const flood = (): void => {
    while (sent < limit && ws.readyState === ws.OPEN && ws.bufferedAmount < 1024 * 1024) {
      ws.send(chunk);
      sent += chunk.length;
    }
    if (ws.readyState === ws.OPEN && sent < limit) setTimeout(flood, 20);
  };
  flood();
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`port ${(server.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
