/**
 * Real HTTP app servers on 127.0.0.1 port 0 for balancer tests. Each answers with its name and
 * what it received, counts requests, and can hold responses open until the test releases them.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

export interface TestBackend {
  name: string;
  url: string;
  port: number;
  server: Server;
  /** Requests received, by method + path. */
  received: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[];
  inFlight: number;
  healthy: boolean;
  /** Health-check requests answered (GET /health). */
  healthChecks: number;
  /** Replaces the default echo handler. */
  handler: Handler | undefined;
  stop(): Promise<void>;
  /** Listens again on the same port (a restarted server). */
  start(): Promise<void>;
}

export async function startBackend(name: string, port = 0): Promise<TestBackend> {
  const backend: TestBackend = {
    name,
    url: '',
    port,
    server: undefined as unknown as Server,
    received: [],
    inFlight: 0,
    healthy: true,
    healthChecks: 0,
    handler: undefined,
    async stop() {
      const closed = new Promise<void>((resolve) => backend.server.close(() => resolve()));
      backend.server.closeAllConnections();
      await closed;
    },
    async start() {
      backend.server = createServer((req, res) => {
        const chunks: Buffer[] = [];
        backend.inFlight++;
        res.on('close', () => backend.inFlight--);
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const body = Buffer.concat(chunks);
          if (req.url === '/health') {
            res.writeHead(backend.healthy ? 200 : 503).end();
            backend.healthChecks++;
            return;
          }
          backend.received.push({
            method: req.method!,
            url: req.url!,
            headers: req.headers,
            body: body.toString(),
          });
          if (backend.handler) return backend.handler(req, res, body);
          const text = JSON.stringify({
            server: name,
            method: req.method,
            url: req.url,
            headers: req.headers,
          });
          res.writeHead(200, { 'content-type': 'application/json', 'x-backend': name }).end(text);
        });
      });
      backend.server.listen(backend.port, '127.0.0.1');
      await once(backend.server, 'listening');
      backend.port = (backend.server.address() as AddressInfo).port;
      backend.url = `http://127.0.0.1:${backend.port}`;
    },
  };
  await backend.start();
  return backend;
}

export async function startBackends(names: string[]): Promise<TestBackend[]> {
  return Promise.all(names.map((n) => startBackend(n)));
}

/** A loopback port that nothing listens on (bound, then released). */
export async function refusedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
