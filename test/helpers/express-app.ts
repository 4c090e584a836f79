/** A small Express app over the public API, one instance per "server" of a test. */
import type { AddressInfo } from 'node:net';
import express from 'express';
import { unpinned } from '../../src/adapters/express/index.js';
import { createSessions, type SessionManager } from '../../src/session/manager.js';
import type { SessionOptions } from '../../src/session/options.js';
import { type RedisStore, redisStore } from '../../src/stores/redis/index.js';

export interface AppInstance {
  url: string;
  sessions: SessionManager;
  store: RedisStore;
  /** Resolved by the test to let requests to /slow continue. */
  release: Promise<void>;
  arrived: number;
  close(): Promise<void>;
}

export async function startExpressApp(
  redisUrl: string,
  options: Partial<SessionOptions> & { commandTimeout?: number; release?: Promise<void> } = {},
): Promise<AppInstance> {
  const store = redisStore({
    url: redisUrl,
    commandTimeout: options.commandTimeout ?? 500,
    onError: () => {},
  });
  await store.ready();
  const sessions = createSessions({ store, ...options });
  const app = express();
  const instance = { release: options.release ?? Promise.resolve(), arrived: 0 } as AppInstance;
  app.use(unpinned(sessions));
  app.get('/plain', (_req, res) => {
    res.send('no session here');
  });
  app.get('/data', async (req, res) => {
    res.json(await req.session.all());
  });
  app.post('/set/:key', async (req, res) => {
    await req.session.set(req.params.key, true);
    res.json({ ok: true });
  });
  app.post('/incr', async (req, res) => {
    res.json({ n: await req.session.increment('n') });
  });
  app.post('/login', async (req, res) => {
    await req.session.regenerate();
    await req.session.bindUser('ann');
    await req.session.set('user', 'ann');
    res.redirect(303, '/data');
  });
  app.post('/logout', async (req, res) => {
    await req.session.destroy();
    res.json({ ok: true });
  });
  // Loads the session, then waits for the test before writing: a slow request in flight.
  app.post('/slow/:key', async (req, res) => {
    await req.session.get('user');
    instance.arrived++;
    await instance.release;
    await req.session.set(req.params.key, 'late');
    res.json({ ok: true });
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  instance.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  instance.sessions = sessions;
  instance.store = store;
  instance.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await store.close();
  };
  return instance;
}

/** A cookie-keeping client (one cookie, like a browser tab). */
export class Client {
  cookie: string | null = null;

  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookie) headers.set('cookie', this.cookie);
    const res = await fetch(url, { redirect: 'manual', ...init, headers });
    const setCookie = res.headers.get('set-cookie');
    if (setCookie) {
      const pair = setCookie.split(';')[0]!;
      this.cookie = /Max-Age=0/.test(setCookie) ? null : pair;
    }
    return res;
  }
}
