/**
 * `serverTiming`: the session's own cost on the response, as browsers' developer tools and the
 * lab read it. The store here waits a known minimum before every call, so the reported session
 * time must include each store round trip of the request (a load, then a commit).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { unpinned } from '../../src/adapters/express/index.js';
import { withSession } from '../../src/adapters/node/index.js';
import { parseServerTiming } from '../../src/lab/virtual-user.js';
import { createSessions } from '../../src/session/manager.js';
import type { SessionStore } from '../../src/session/store.js';
import { memoryStore } from '../../src/stores/memory/index.js';

const STORE_MS = 15;

/** The memory store, with every call answered no sooner than STORE_MS later. */
function slowStore(): SessionStore {
  const store = memoryStore();
  return new Proxy(store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof value !== 'function' || key === 'constructor') return value;
      return async (...args: unknown[]) => {
        // Timers may fire a fraction of a ms early by performance.now()'s clock: wait on that clock.
        const until = performance.now() + STORE_MS;
        while (performance.now() < until) await new Promise((resolve) => setTimeout(resolve, 1));
        return value.apply(target, args);
      };
    },
  }) as SessionStore;
}

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function listen(server: Server): Promise<string> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function expressApp(serverTiming: boolean | undefined): Promise<string> {
  const sessions = createSessions({ store: slowStore() });
  const app = express();
  app.use(unpinned(sessions, serverTiming === undefined ? {} : { serverTiming }));
  app.get('/plain', (_req, res) => res.send('no session'));
  app.get('/read', async (req, res) => res.json({ user: (await req.session.get('user')) ?? null }));
  app.post('/write', async (req, res) => {
    await req.session.set('seen', Date.now());
    res.json({ ok: true });
  });
  return listen(createServer(app));
}

const cookieOf = (res: Response) => res.headers.getSetCookie()[0]!.split(';')[0]!;

describe('Server-Timing', () => {
  it('reports load + commit (every store call of the request) and the app time, in ms', async () => {
    const url = await expressApp(true);
    // A new session: no load, one commit.
    const first = await fetch(`${url}/write`, { method: 'POST' });
    const created = parseServerTiming(first.headers.get('server-timing'))!;
    expect(created.sessionUs).toBeGreaterThanOrEqual(STORE_MS * 1000);
    const cookie = cookieOf(first);
    // An existing one, written: a load and a commit.
    const written = await fetch(`${url}/write`, { method: 'POST', headers: { cookie } });
    const timing = parseServerTiming(written.headers.get('server-timing'))!;
    expect(timing.sessionUs).toBeGreaterThanOrEqual(2 * STORE_MS * 1000);
    expect(timing.appUs).toBeGreaterThanOrEqual(timing.sessionUs);
    expect(written.headers.get('server-timing')).toMatch(
      /^session;dur=\d+\.\d{3};desc="load\+commit", app;dur=\d+\.\d{3}$/,
    );
    // Read only: the load, and no write.
    const read = await fetch(`${url}/read`, { headers: { cookie } });
    expect(parseServerTiming(read.headers.get('server-timing'))!.sessionUs).toBeGreaterThanOrEqual(
      STORE_MS * 1000,
    );
  });

  it('is off by default, and absent on a response that never used its session', async () => {
    const off = await expressApp(undefined);
    expect((await fetch(`${off}/write`, { method: 'POST' })).headers.get('server-timing')).toBeNull();
    const on = await expressApp(true);
    expect((await fetch(`${on}/plain`)).headers.get('server-timing')).toBeNull();
  });

  it('keeps headers the handler gave to writeHead, on node:http', async () => {
    const sessions = createSessions({ store: slowStore() });
    const url = await listen(
      createServer(
        withSession(
          sessions,
          async (_req, res, session) => {
            await session.set('n', 1);
            res.writeHead(201, { 'content-type': 'text/plain', 'x-kept': 'yes' });
            res.end('ok');
          },
          { serverTiming: true },
        ),
      ),
    );
    const res = await fetch(url);
    expect(res.status).toBe(201);
    expect(res.headers.get('x-kept')).toBe('yes');
    expect(res.headers.getSetCookie()).toHaveLength(1);
    expect(parseServerTiming(res.headers.get('server-timing'))!.sessionUs).toBeGreaterThanOrEqual(
      STORE_MS * 1000,
    );
  });
});
