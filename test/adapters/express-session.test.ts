/**
 * Migration from express-session + connect-redis, against a real redis-server:
 * a user logged in on the legacy app stays logged in, with the same cart, when
 * the next request reaches the unpinned app; and express-session itself can run
 * on an unpinned store.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RedisStore as ConnectRedisStore } from 'connect-redis';
import express from 'express';
import session from 'express-session';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { unpinned } from '../../src/adapters/express/index.js';
import {
  connectRedisSource,
  expressSessionStore,
  importExpressSessions,
  legacyImport,
} from '../../src/adapters/express-session/index.js';
import { sign } from '../../src/adapters/express-session/signature.js';
import { createSessions, type SessionManager } from '../../src/session/manager.js';
import type { SessionStore } from '../../src/session/store.js';
import { sessionIdOf } from '../../src/session/token.js';
import { redisStore } from '../../src/stores/redis/index.js';
import { describeRedis, RedisServer } from '../helpers/redis-server.js';
import { wrapStore } from '../helpers/sessions.js';
import { waitFor } from '../helpers/wait.js';

declare module 'express-session' {
  interface SessionData {
    user: string;
    cart: string[];
  }
}

const SECRET = 'legacy keyboard cat';
type RawClient = ReturnType<typeof createClient>;

describeRedis('migration from express-session + connect-redis', () => {
  let redis: RedisServer;
  let raw: RawClient;
  let io: Redis;
  const servers: Server[] = [];
  beforeAll(async () => {
    redis = await RedisServer.start();
    raw = createClient({ url: redis.url });
    raw.on('error', () => {});
    await raw.connect();
    io = new Redis(redis.url);
    io.on('error', () => {});
    await waitFor(() => io.status === 'ready', { what: 'ioredis to connect' });
  });
  afterEach(async () => {
    await Promise.all(
      servers.splice(0).map((s) => {
        s.closeAllConnections();
        return new Promise((resolve) => s.close(resolve));
      }),
    );
  });
  afterAll(async () => {
    io?.disconnect();
    await raw?.close().catch(() => {});
    await redis?.close();
  });

  async function listen(app: express.Express): Promise<string> {
    const server = app.listen(0, '127.0.0.1');
    servers.push(server);
    await new Promise((resolve) => server.once('listening', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  /** The app as it ran before: express-session on connect-redis 9, node-redis client. */
  async function legacyApp(store: session.Store = new ConnectRedisStore({ client: raw })): Promise<string> {
    const app = express();
    app.use(session({ store, secret: SECRET, resave: false, saveUninitialized: false }));
    // req.session is typed by unpinned's Express adapter in this program; here it is express-session's.
    const legacySession = (req: express.Request) =>
      req.session as unknown as session.Session & Partial<session.SessionData>;
    app.post('/login', (req, res) => {
      legacySession(req).user = 'ann';
      res.json({ ok: true });
    });
    app.post('/cart/:sku', (req, res) => {
      const s = legacySession(req);
      s.cart = [...(s.cart ?? []), req.params.sku];
      res.json({ cart: s.cart });
    });
    app.get('/me', (req, res) => {
      const s = legacySession(req);
      res.json({ user: s.user ?? null, cart: s.cart ?? [] });
    });
    app.post('/logout', (req, res, next) => {
      legacySession(req).destroy((error: unknown) => (error ? next(error) : res.json({ ok: true })));
    });
    return listen(app);
  }

  /** The app after the switch: unpinned with the read-through import, legacy read through ioredis. */
  async function unpinnedApp(store: SessionStore): Promise<{ url: string; sessions: SessionManager }> {
    const sessions = createSessions({ store });
    const importer = legacyImport({
      sessions,
      legacy: connectRedisSource({ client: io }),
      secret: ['a newer secret', SECRET],
      userIdOf: (legacy) => legacy.user,
    });
    const app = express();
    app.use(importExpressSessions(importer));
    app.use(unpinned(sessions));
    app.get('/me', async (req, res) => {
      res.json({
        user: (await req.session.get('user')) ?? null,
        cart: (await req.session.get('cart')) ?? [],
      });
    });
    app.post('/cart/:sku', async (req, res) => {
      res.json({
        cart: await req.session.update<string[]>('cart', (cart = []) => [...cart, req.params.sku]),
      });
    });
    return { url: await listen(app), sessions };
  }

  /**
   * A request whose whole response has arrived. express-session sends the headers
   * and all but the last byte before its save finishes (its "writetop"), so only
   * the end of the body proves the session is saved.
   */
  async function complete(url: string, init: RequestInit = {}): Promise<Response> {
    const res = await fetch(url, init);
    const body = await res.arrayBuffer();
    return new Response(body, { status: res.status, headers: res.headers });
  }

  async function loggedInLegacyUser(url: string): Promise<{ cookie: string; sid: string }> {
    const login = await complete(`${url}/login`, { method: 'POST' });
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    for (const sku of ['apple', 'pear'])
      await complete(`${url}/cart/${sku}`, { method: 'POST', headers: { cookie } });
    const sid = decodeURIComponent(cookie.split('=')[1]!).slice(2).split('.')[0]!;
    return { cookie, sid };
  }

  const store = () => redisStore({ client: raw, prefix: 'up:' });

  it('keeps the user logged in with the same cart, on a new cookie, and deletes the legacy session after', async () => {
    const legacy = await legacyApp();
    const { cookie, sid } = await loggedInLegacyUser(legacy);
    expect(await (await fetch(`${legacy}/me`, { headers: { cookie } })).json()).toEqual({
      user: 'ann',
      cart: ['apple', 'pear'],
    });
    expect(await raw.exists(`sess:${sid}`)).toBe(1);

    const { url, sessions } = await unpinnedApp(store());
    const first = await fetch(`${url}/me`, { headers: { cookie } });
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ user: 'ann', cart: ['apple', 'pear'] });
    const setCookies = first.headers.getSetCookie();
    const fresh = setCookies.find((c) => c.startsWith('sid='))!;
    expect(fresh).toMatch(/^sid=[\w-]{43}; Max-Age=\d+; Path=\/; HttpOnly; SameSite=Lax$/);
    expect(setCookies).toContainEqual(expect.stringMatching(/^connect\.sid=; Path=\/; .*Max-Age=0$/));
    // The new session cookie never reaches a shared cache.
    expect(first.headers.get('cache-control')).toBe('no-store');
    expect(await raw.exists(`sess:${sid}`)).toBe(0);

    // The second request carries the new cookie only.
    const newCookie = fresh.split(';')[0]!;
    const second = await fetch(`${url}/cart/plum`, { method: 'POST', headers: { cookie: newCookie } });
    expect(await second.json()).toEqual({ cart: ['apple', 'pear', 'plum'] });
    expect(second.headers.get('set-cookie')).toBeNull();
    expect(await (await fetch(`${url}/me`, { headers: { cookie: newCookie } })).json()).toEqual({
      user: 'ann',
      cart: ['apple', 'pear', 'plum'],
    });
    // Bound to the user: "log out everywhere" already covers the imported session.
    expect(await sessions.listUserSessions('ann')).toHaveLength(1);
    // The old cookie is dead: replaying it imports nothing.
    expect(await (await fetch(`${url}/me`, { headers: { cookie } })).json()).toEqual({
      user: null,
      cart: [],
    });
  });

  it('rejects unsigned, forged and foreign-secret legacy cookies, and leaves their sessions alone', async () => {
    const legacy = await legacyApp();
    const { sid } = await loggedInLegacyUser(legacy);
    const { url } = await unpinnedApp(store());
    const forged = [
      `connect.sid=${sid}`,
      `connect.sid=${encodeURIComponent(`s:${sid}`)}`,
      `connect.sid=${encodeURIComponent(`s:${sid}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`)}`,
      `connect.sid=${encodeURIComponent(`s:${sign(sid, 'not the secret')}`)}`,
      `connect.sid=%E0%A4%A`,
    ];
    for (const cookie of forged) {
      const res = await fetch(`${url}/me`, { headers: { cookie } });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ user: null, cart: [] });
      expect(res.headers.get('set-cookie')).toBeNull();
    }
    expect(await raw.exists(`sess:${sid}`)).toBe(1);
  });

  it('deletes nothing when the import cannot be committed: 503, and the legacy session still works', async () => {
    const legacy = await legacyApp();
    const { cookie, sid } = await loggedInLegacyUser(legacy);
    const failing = wrapStore(store(), { write: () => Promise.reject(new Error('write refused')) });
    const broken = await unpinnedApp(failing);
    const res = await fetch(`${broken.url}/me`, { headers: { cookie } });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(await raw.exists(`sess:${sid}`)).toBe(1);
    // Once the store takes writes again, the same cookie imports.
    const working = await unpinnedApp(store());
    expect(await (await fetch(`${working.url}/me`, { headers: { cookie } })).json()).toEqual({
      user: 'ann',
      cart: ['apple', 'pear'],
    });
  });

  it('clears a validly signed legacy cookie whose session has expired, without creating a session', async () => {
    const { url } = await unpinnedApp(store());
    const cookie = `connect.sid=${encodeURIComponent(`s:${sign('no-such-session', SECRET)}`)}`;
    const res = await fetch(`${url}/me`, { headers: { cookie } });
    expect(await res.json()).toEqual({ user: null, cart: [] });
    expect(res.headers.getSetCookie()).toEqual([expect.stringMatching(/^connect\.sid=; .*Max-Age=0$/)]);
  });

  describe('express-session on an unpinned store (the one-line switch)', () => {
    it('logs in, fills a cart across two app servers, logs out; Redis holds no sid', async () => {
      const unpinnedStore = store();
      const urls = [
        await legacyApp(expressSessionStore(unpinnedStore, { userIdOf: (s) => s.user })),
        await legacyApp(expressSessionStore(unpinnedStore)),
      ];
      const { cookie, sid } = await loggedInLegacyUser(urls[0]!);
      await complete(`${urls[1]}/cart/plum`, { method: 'POST', headers: { cookie } });
      expect(await (await fetch(`${urls[1]}/me`, { headers: { cookie } })).json()).toEqual({
        user: 'ann',
        cart: ['apple', 'pear', 'plum'],
      });
      // Keyed by the hash of the sid: a dump of Redis holds no usable cookie value.
      expect(await raw.exists(unpinnedStore.sessionKey(sessionIdOf(sid)))).toBe(1);
      expect(await raw.keys(`*${sid}*`)).toEqual([]);
      expect((await unpinnedStore.listByUser('ann', Date.now())).map((s) => s.id)).toContain(
        sessionIdOf(sid),
      );

      await complete(`${urls[1]}/logout`, { method: 'POST', headers: { cookie } });
      expect(await raw.exists(unpinnedStore.sessionKey(sessionIdOf(sid)))).toBe(0);
      expect(await (await fetch(`${urls[0]}/me`, { headers: { cookie } })).json()).toEqual({
        user: null,
        cart: [],
      });
    });

    it('answers 503 with Retry-After when the unpinned store is down', async () => {
      const down = wrapStore(store(), { load: () => Promise.reject(new Error('down')) });
      const url = await legacyApp(expressSessionStore(down));
      const { cookie } = await loggedInLegacyUser(await legacyApp(expressSessionStore(store())));
      const res = await fetch(`${url}/me`, { headers: { cookie } });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
    });
  });
});
