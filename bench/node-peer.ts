/**
 * The Node peer for the balancer benchmark: http-proxy (the most used Node reverse proxy),
 * round-robin over the same servers, with a keep-alive agent so it is measured at its best.
 */
import { Agent, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import httpProxy from 'http-proxy';

const targets = process.argv.slice(2);
const agent = new Agent({ keepAlive: true, maxSockets: 256 });
const proxy = httpProxy.createProxyServer({ agent, xfwd: true });
proxy.on('error', (_err, _req, res) => {
  if ('writeHead' in res && !res.headersSent) res.writeHead(502);
  res.end();
});
let next = 0;
const server = createServer((req, res) => {
  const target = targets[next++ % targets.length]!;
  proxy.web(req, res, { target });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`port ${(server.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
