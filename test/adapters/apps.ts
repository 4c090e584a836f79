/**
 * One small app per adapter, all with the same routes, for the adapter
 * behaviour suite. Each runs a real HTTP server on 127.0.0.1, port 0, and
 * trusts X-Forwarded-Proto from loopback (a TLS-terminating proxy in front).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import { unpinned as expressSessions } from '../../src/adapters/express/index.js';
import { unpinned as fastifySessions } from '../../src/adapters/fastify/index.js';
import { withSession as nodeWithSession } from '../../src/adapters/node/index.js';
import { withSession as webWithSession } from '../../src/adapters/web/index.js';
import type { SessionManager } from '../../src/session/manager.js';
import type { Session } from '../../src/session/session.js';

export interface RunningApp {
  url: string;
  close(): Promise<void>;
}

export type StartApp = (sessions: SessionManager) => Promise<RunningApp>;

/** The routes every adapter app has, as framework-neutral steps on a session. */
type Answer = { status: number; json?: unknown; text?: string; location?: string; cacheControl?: string };
const routes: Record<string, (session: Session, key: string) => Promise<Answer>> = {
  'GET /plain': async () => ({ status: 200, text: 'no session here' }),
  'GET /data': async (s) => ({ status: 200, json: await s.all() }),
  'POST /set': async (s, key) => {
    await s.set(key, true);
    return { status: 200, json: { ok: true } };
  },
  'POST /incr': async (s) => ({ status: 200, json: { n: await s.increment('n') } }),
  'POST /login': async (s) => {
    await s.regenerate();
    await s.set('user', 'ann');
    return { status: 303, location: '/data' };
  },
  // A handler that marks its answer cacheable: `/cached/private` privately, anything else publicly.
  'GET /cached': async (s) => ({ status: 200, json: await s.all(), cacheControl: 'public, max-age=600' }),
  'POST /cached': async (s, key) => {
    await s.set(key, true);
    const cacheControl = key === 'private' ? 'private, max-age=60' : 'public, max-age=600';
    return { status: 200, json: { ok: true }, cacheControl };
  },
  'POST /logout': async (s) => {
    await s.destroy();
    return { status: 200, json: { ok: true } };
  },
};

function route(method: string, path: string): [(typeof routes)[string] | undefined, string] {
  const [, base, key = ''] = /^(\/[a-z]+)(?:\/([\w-]+))?$/.exec(path) ?? [];
  return [routes[`${method} ${base}`], key];
}

async function listen(server: Server): Promise<RunningApp> {
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

export const startExpress: StartApp = async (sessions) => {
  const app = express();
  app.set('trust proxy', 'loopback');
  app.use(expressSessions(sessions));
  app.use(async (req, res, next) => {
    const [handler, key] = route(req.method, req.path);
    if (!handler) return next();
    try {
      const answer = await handler(req.session, key);
      if (answer.cacheControl) res.set('cache-control', answer.cacheControl);
      if (answer.location) res.redirect(answer.status, answer.location);
      else if (answer.json !== undefined) res.status(answer.status).json(answer.json);
      else res.status(answer.status).send(answer.text);
    } catch (error) {
      next(error);
    }
  });
  return listen(app.listen(0, '127.0.0.1'));
};

export const startFastify: StartApp = async (sessions) => {
  const app = Fastify({ trustProxy: '127.0.0.1' });
  await app.register(fastifySessions, { sessions });
  app.all('/*', async (request, reply) => {
    const [handler, key] = route(request.method, request.url.split('?')[0]!);
    if (!handler) return reply.code(404).send('not found');
    const answer = await handler(request.session, key);
    if (answer.cacheControl) reply.header('cache-control', answer.cacheControl);
    if (answer.location) return reply.redirect(answer.location, answer.status);
    return reply.code(answer.status).send(answer.json ?? answer.text);
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
    close: () => app.close(),
  };
};

export const startNode: StartApp = async (sessions) => {
  const server = createServer(
    nodeWithSession(
      sessions,
      async (req, res, session) => {
        const [handler, key] = route(req.method!, req.url!.split('?')[0]!);
        if (!handler) return void res.writeHead(404).end();
        const answer = await handler(session, key);
        const body = answer.json !== undefined ? JSON.stringify(answer.json) : (answer.text ?? '');
        res.writeHead(answer.status, {
          ...(answer.location && { location: answer.location }),
          ...(answer.cacheControl && { 'cache-control': answer.cacheControl }),
        });
        res.end(body);
      },
      { trustProxy: true },
    ),
  );
  return listen(server);
};

/** A web-standard handler (a Next.js route handler has this shape) behind a tiny node:http bridge. */
export const webHandler = (sessions: SessionManager) =>
  webWithSession(sessions, async (request, session) => {
    const url = new URL(request.url);
    const [handler, key] = route(request.method, url.pathname);
    if (!handler) return new Response('not found', { status: 404 });
    const answer = await handler(session, key);
    if (answer.location) return Response.redirect(new URL(answer.location, url), answer.status as 303);
    const headers = answer.cacheControl ? { 'cache-control': answer.cacheControl } : undefined;
    if (answer.json !== undefined) return Response.json(answer.json, { status: answer.status, headers });
    return new Response(answer.text, { status: answer.status });
  });

export const startWeb: StartApp = async (sessions) => listen(createServer(bridge(webHandler(sessions))));

/** node:http → fetch-style handler. The scheme comes from X-Forwarded-Proto, as a proxy-aware host would set it. */
export function bridge(handler: (request: Request) => Promise<Response>) {
  return async (req: IncomingMessage, res: ServerResponse) => {
    const proto = req.headers['x-forwarded-proto'] === 'https' ? 'https' : 'http';
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers))
      if (typeof value === 'string') headers.set(name, value);
    const body = chunks.length > 0 && req.method !== 'GET' ? Buffer.concat(chunks) : undefined;
    const response = await handler(
      new Request(`${proto}://${req.headers.host}${req.url}`, { method: req.method, headers, body }),
    );
    const out: Record<string, string | string[]> = Object.fromEntries(response.headers);
    const cookies = response.headers.getSetCookie();
    if (cookies.length > 0) out['set-cookie'] = cookies;
    res.writeHead(response.status, out);
    res.end(Buffer.from(await response.arrayBuffer()));
  };
}
