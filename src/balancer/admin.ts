/**
 * The admin API, on its own port and bound to loopback unless told otherwise, so it is never
 * reachable through the balanced port. With a token configured, every call needs
 * `Authorization: Bearer <token>` (compared in constant time).
 *
 * GET /servers · POST /servers {url, id?, draining?} · DELETE /servers/:id · POST /servers/:id/drain[?wait=1]
 * POST /servers/:id/undrain · GET /strategy · PUT /strategy {strategy} · GET /metrics · GET /healthz
 */

import { createHash, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Balancer } from './balancer.js';
import { BalancerError, balancerError, invalidOption } from './errors.js';

export interface AdminOptions {
  port: number;
  host: string;
  token: string | undefined;
}

/** Starts the admin API for `balancer`; resolves once it listens. */
export async function startAdmin(balancer: Balancer, options: AdminOptions): Promise<Server> {
  const tokenDigest = options.token === undefined ? undefined : digest(options.token);
  const server = createServer((req, res) => {
    if (tokenDigest && !authorized(req, tokenDigest)) {
      res.setHeader('www-authenticate', 'Bearer');
      return sendJsonError(
        res,
        balancerError('UNPINNED_ERR_LB_UNAUTHORIZED', 'Missing or wrong admin token'),
      );
    }
    route(balancer, req, res).catch((err: unknown) => sendJsonError(res, err));
  });
  server.listen(options.port, options.host);
  await once(server, 'listening');
  return server;
}

async function route(balancer: Balancer, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://admin');
  const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  const method = req.method ?? 'GET';
  const [head, id, action] = parts;
  if (head === 'metrics' && method === 'GET') {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
    return void res.end(balancer.metrics());
  }
  if (head === 'healthz') return void sendJson(res, 200, { ok: true });
  if (head === 'strategy' && parts.length === 1) {
    if (method === 'PUT' || method === 'POST') {
      const body = await readJson(req);
      balancer.setStrategy(String(body.strategy));
    }
    return void sendJson(res, 200, { strategy: balancer.strategy });
  }
  if (head === 'servers') {
    if (id === undefined && method === 'GET') {
      return void sendJson(res, 200, { strategy: balancer.strategy, servers: balancer.backends() });
    }
    if (id === undefined && method === 'POST') {
      const body = await readJson(req);
      if (typeof body.url !== 'string') throw invalidOption('url', 'a server URL', body.url);
      const spec = {
        url: body.url,
        ...(typeof body.id === 'string' && { id: body.id }),
        ...(body.draining === true && { draining: true }),
      };
      return void sendJson(res, 201, balancer.addBackend(spec));
    }
    if (id !== undefined && action === undefined && method === 'DELETE') {
      await balancer.removeBackend(id);
      return void sendJson(res, 200, { removed: id });
    }
    if (id !== undefined && action === 'drain' && method === 'POST') {
      const done = balancer.drain(id);
      if (url.searchParams.has('wait')) await done;
      return void sendJson(res, 200, snapshotOf(balancer, id));
    }
    if (id !== undefined && action === 'undrain' && method === 'POST') {
      balancer.undrain(id);
      return void sendJson(res, 200, snapshotOf(balancer, id));
    }
  }
  sendJson(res, 404, { error: { code: 'NOT_FOUND', message: `No admin route ${method} ${url.pathname}` } });
}

function snapshotOf(balancer: Balancer, id: string): unknown {
  return balancer.backends().find((b) => b.id === id || b.url === id);
}

function authorized(req: IncomingMessage, expected: Buffer): boolean {
  const header = req.headers.authorization ?? '';
  if (!header.startsWith('Bearer ')) return false;
  // Digests have equal length, so timingSafeEqual never throws and leaks nothing about length.
  return timingSafeEqual(digest(header.slice(7)), expected);
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > 65_536) throw invalidOption('body', 'a JSON body under 64 KiB', `${size} bytes`);
    chunks.push(chunk);
  }
  try {
    const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
    if (parsed && typeof parsed === 'object') return parsed as Record<string, unknown>;
  } catch {}
  throw invalidOption('body', 'a JSON object', 'unparseable body');
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendJsonError(res: ServerResponse, err: unknown): void {
  if (res.headersSent) return void res.destroy();
  if (err instanceof BalancerError) {
    return void sendJson(res, err.statusCode, { error: { code: err.code, message: err.message } });
  }
  sendJson(res, 500, { error: { code: 'INTERNAL', message: (err as Error)?.message ?? String(err) } });
}
