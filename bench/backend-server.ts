/**
 * A minimal app server for the balancer benchmark: answers every request with a small body,
 * keep-alive on. Prints its port on stdout. Run as its own process, like a real app server.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const name = process.argv[2] ?? 'app';
const body = Buffer.from(JSON.stringify({ ok: true, server: name, pad: 'x'.repeat(64) }));
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`port ${(server.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
