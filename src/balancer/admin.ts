/**
 * The admin API, on its own port and bound to loopback unless told otherwise, so it is never
 * reachable through the balanced port. With a token configured, every call needs
 * `Authorization: Bearer <token>` (compared in constant time); a non-loopback address needs one
 * (config.ts refuses it otherwise).
 *
 * Loopback is reachable from every page the operator's browser opens, and anyone who can call
 * this API can add a server and receive the users' traffic, session cookies included. So without
 * a token, only a Host no DNS-rebinding page can send is answered (an IP literal or localhost);
 * and always, a state-changing request a page on another origin sent is refused, and a body must
 * be declared `application/json`, which no form or preflight-free request can carry
 * (browser-guard.ts). With a token, the Host is not checked: browsers never attach a bearer token
 * by themselves, and a networked admin API is reached under names this process cannot know.
 *
 * GET /servers · POST /servers {url, id?, draining?} · DELETE /servers/:id · POST /servers/:id/drain[?wait=1]
 * POST /servers/:id/undrain · POST /servers/:id/retire {retireAfterMs?}[?wait=1] · GET /legacy
 * GET /strategy · PUT /strategy {strategy} · GET /metrics · GET /healthz
 */

import { createHash, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Balancer } from './balancer.js';
import { crossOriginReason, declaresJson, rebindingSafeHost } from './browser-guard.js';
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
    if (!tokenDigest && !rebindingSafeHost(req.headers.host)) {
      return sendJsonError(
        res,
        forbidden(
          421,
          `Host ${JSON.stringify(req.headers.host ?? '')} refused (a DNS-rebinding page sends its own name). Call the admin API at its IP address, e.g. http://127.0.0.1:<port>, or configure a token`,
        ),
      );
    }
    if (tokenDigest && !authorized(req, tokenDigest)) {
      res.setHeader('www-authenticate', 'Bearer');
      return sendJsonError(
        res,
        balancerError('UNPINNED_ERR_LB_UNAUTHORIZED', 'Missing or wrong admin token'),
      );
    }
    const crossOrigin = crossOriginReason(req);
    if (crossOrigin) {
      return sendJsonError(
        res,
        forbidden(
          403,
          `Cross-origin request refused (${crossOrigin}). Call the admin API from curl, a script or the CLI, not from a web page`,
        ),
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
    balancer.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
        res.end(text);
      },
      () => sendJson(res, 500, { error: 'metrics unavailable' }),
    );
    return;
  }
  if (head === 'healthz') return void sendJson(res, 200, { ok: true });
  if (head === 'legacy' && parts.length === 1 && method === 'GET')
    return void sendJson(res, 200, balancer.legacy());
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
    if (id !== undefined && action === 'retire' && method === 'POST') {
      const hasBody =
        req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
      const cap = hasBody ? (await readJson(req)).retireAfterMs : undefined;
      const done = balancer.retire(id, cap === undefined ? {} : { retireAfterMs: cap as number | null });
      if (url.searchParams.has('wait')) return void sendJson(res, 200, await done);
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

function forbidden(status: number, message: string): BalancerError {
  return new BalancerError('UNPINNED_ERR_LB_FORBIDDEN', `${message}.`, { statusCode: status });
}

function authorized(req: IncomingMessage, expected: Buffer): boolean {
  const header = req.headers.authorization ?? '';
  // The auth scheme is case-insensitive: https://www.rfc-editor.org/rfc/rfc9110#section-11.1
  if (header.slice(0, 7).toLowerCase() !== 'bearer ') return false;
  // Digests have equal length, so timingSafeEqual never throws and leaks nothing about length.
  return timingSafeEqual(digest(header.slice(7)), expected);
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  // A text/plain body is what a cross-site form or no-cors fetch can send without a preflight.
  if (!declaresJson(req)) {
    throw forbidden(415, 'Send the body as JSON with Content-Type: application/json');
  }
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
