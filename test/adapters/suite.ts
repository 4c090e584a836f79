/**
 * The adapter behaviour suite: the same cases against every adapter, each a
 * real HTTP server. Adapters are thin translations of the core; this suite is
 * what holds them to the same behaviour.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createSessions } from '../../src/session/manager.js';
import type { SessionOptions } from '../../src/session/options.js';
import type { SessionStore } from '../../src/session/store.js';
import { memoryStore } from '../../src/stores/memory/index.js';
import { countingStore, wrapStore } from '../helpers/sessions.js';
import type { RunningApp, StartApp } from './apps.js';

const TOKEN = '[A-Za-z0-9_-]{43}';
const PLAIN_COOKIE = new RegExp(`^sid=${TOKEN}; Max-Age=\\d+; Path=/; HttpOnly; SameSite=Lax$`);
const SECURE_COOKIE = new RegExp(
  `^__Host-sid=${TOKEN}; Max-Age=\\d+; Path=/; HttpOnly; SameSite=Lax; Secure$`,
);

/** Fetch with one cookie, like a browser tab; follows nothing. */
async function call(app: RunningApp, method: string, path: string, cookie?: string | null, headers = {}) {
  const res = await fetch(`${app.url}${path}`, {
    method,
    redirect: 'manual',
    headers: { ...(cookie ? { cookie } : {}), ...headers },
  });
  const setCookie = res.headers.get('set-cookie');
  const text = await res.text();
  return { res, setCookie, cookie: setCookie?.split(';')[0] ?? null, text };
}

export function adapterSuite(name: string, start: StartApp): void {
  describe(`adapter behaviour: ${name}`, () => {
    const running: RunningApp[] = [];
    afterEach(async () => {
      await Promise.all(running.splice(0).map((app) => app.close()));
    });
    const serve = async (store: SessionStore, options: Partial<SessionOptions> = {}) => {
      const app = await start(createSessions({ store, ...options }));
      running.push(app);
      return app;
    };
    const memory = () => memoryStore({ quiet: true });

    it('is lazy: no store call and no cookie for a request that does not write', async () => {
      const store = countingStore(memory());
      const app = await serve(store);
      const plain = await call(app, 'GET', '/plain');
      expect(plain.res.status).toBe(200);
      expect(plain.setCookie).toBeNull();
      // Reading without a cookie: nothing to load, nothing to create.
      const read = await call(app, 'GET', '/data');
      expect(JSON.parse(read.text)).toEqual({});
      expect(read.setCookie).toBeNull();
      expect(store.total()).toBe(0);
      // With a session cookie, an untouched request still costs nothing.
      const { cookie } = await call(app, 'POST', '/set/a');
      const before = store.total();
      expect((await call(app, 'GET', '/plain', cookie)).setCookie).toBeNull();
      expect(store.total()).toBe(before);
    });

    it('sets an HttpOnly, SameSite cookie on the first write, and the session follows it', async () => {
      const app = await serve(memory());
      const first = await call(app, 'POST', '/set/a');
      expect(first.res.status).toBe(200);
      expect(first.setCookie).toMatch(PLAIN_COOKIE);
      expect(JSON.parse((await call(app, 'GET', '/data', first.cookie)).text)).toEqual({ a: true });
    });

    it('uses a Secure __Host- cookie when the request came over HTTPS', async () => {
      const app = await serve(memory());
      const https = { 'x-forwarded-proto': 'https' };
      const first = await call(app, 'POST', '/set/a', null, https);
      expect(first.setCookie).toMatch(SECURE_COOKIE);
      expect(JSON.parse((await call(app, 'GET', '/data', first.cookie, https)).text)).toEqual({ a: true });
      // The plain-HTTP name is a different cookie: a secure session never rides an insecure request.
      expect(JSON.parse((await call(app, 'GET', '/data', first.cookie)).text)).toEqual({});
    });

    it('uses a Secure __Host- cookie when secure is forced, even over plain HTTP', async () => {
      const app = await serve(memory(), { cookie: { secure: true, sameSite: 'strict' } });
      const first = await call(app, 'POST', '/set/a');
      expect(first.setCookie).toMatch(/^__Host-sid=[\w-]{43}; .*HttpOnly; SameSite=Strict; Secure$/);
    });

    it('regenerates: a new token on login, the old one stops working', async () => {
      const app = await serve(memory());
      const { cookie: before } = await call(app, 'POST', '/set/cart');
      const login = await call(app, 'POST', '/login', before);
      expect(login.res.status).toBe(303);
      expect(login.setCookie).toMatch(PLAIN_COOKIE);
      expect(login.cookie).not.toBe(before);
      expect(JSON.parse((await call(app, 'GET', '/data', login.cookie)).text)).toEqual({
        cart: true,
        user: 'ann',
      });
      expect(JSON.parse((await call(app, 'GET', '/data', before)).text)).toEqual({});
    });

    it('destroys: the cookie is cleared and the old token reads as no session', async () => {
      const app = await serve(memory());
      const { cookie } = await call(app, 'POST', '/set/a');
      const logout = await call(app, 'POST', '/logout', cookie);
      expect(logout.res.status).toBe(200);
      expect(logout.setCookie).toMatch(/^sid=; Max-Age=0; .*HttpOnly/);
      expect(JSON.parse((await call(app, 'GET', '/data', cookie)).text)).toEqual({});
    });

    it('takes the token from the Cookie header only: never from the URL or another header', async () => {
      const app = await serve(memory());
      const { cookie } = await call(app, 'POST', '/set/a');
      const token = cookie!.slice('sid='.length);
      expect(JSON.parse((await call(app, 'GET', '/data', cookie)).text)).toEqual({ a: true });
      for (const [path, headers] of [
        [`/data?sid=${token}`, {}],
        [`/data;jsessionid=${token}`, {}],
        ['/data', { authorization: `Bearer ${token}` }],
        ['/data', { 'x-session-id': token }],
      ] as const) {
        const answer = await call(app, 'GET', path, null, headers);
        expect(answer.text, path).not.toContain('"a"');
      }
    });

    it('keeps a response that carries the session cookie out of shared caches', async () => {
      const app = await serve(memory());
      // A new session, on a response the handler marked public: a CDN must not hand it to the next visitor.
      const first = await call(app, 'POST', '/cached/a');
      expect(first.setCookie).toMatch(PLAIN_COOKIE);
      expect(first.res.headers.get('cache-control')).toBe('no-store');
      // Without a handler's Cache-Control too, and when the cookie is cleared (logout).
      const plain = await call(app, 'POST', '/set/b', first.cookie);
      expect(plain.setCookie).toBeNull();
      expect(plain.res.headers.get('cache-control')).toBeNull();
      const login = await call(app, 'POST', '/login', first.cookie);
      expect(login.res.headers.get('cache-control')).toBe('no-store');
      const logout = await call(app, 'POST', '/logout', login.cookie);
      expect(logout.setCookie).toMatch(/^sid=; Max-Age=0/);
      expect(logout.res.headers.get('cache-control')).toBe('no-store');
      // Already private: shared caches never store it, the handler's choice stands.
      const own = await call(app, 'POST', '/cached/private');
      expect(own.setCookie).toMatch(PLAIN_COOKIE);
      expect(own.res.headers.get('cache-control')).toBe('private, max-age=60');
      // No session cookie on the response: the handler's caching is left alone.
      const read = await call(app, 'GET', '/cached', own.cookie);
      expect(read.setCookie).toBeNull();
      expect(read.res.headers.get('cache-control')).toBe('public, max-age=600');
    });

    it('answers 503 with Retry-After when the store cannot be read, never a new session', async () => {
      const inner = memory();
      let down = false;
      const store = wrapStore(inner, {
        load: (id) => (down ? Promise.reject(new Error('connection refused')) : inner.load(id)),
      });
      const app = await serve(store);
      const { cookie } = await call(app, 'POST', '/set/a');
      down = true;
      for (const [method, path] of [
        ['GET', '/data'],
        ['POST', '/set/b'],
      ] as const) {
        const answer = await call(app, method, path, cookie);
        expect(answer.res.status).toBe(503);
        expect(answer.res.headers.get('retry-after')).toBe('1');
        expect(answer.setCookie).toBeNull();
      }
      down = false;
      expect(JSON.parse((await call(app, 'GET', '/data', cookie)).text)).toEqual({ a: true });
    });

    it('commits before it responds: a write the store refuses is a 503, not the handler’s 200', async () => {
      const inner = memory();
      const store = wrapStore(inner, { write: () => Promise.reject(new Error('write refused')) });
      const app = await serve(store);
      const answer = await call(app, 'POST', '/set/a');
      expect(answer.res.status).toBe(503);
      expect(answer.res.headers.get('retry-after')).toBe('1');
      expect(answer.setCookie).toBeNull();
      expect(JSON.parse(answer.text)).toMatchObject({ error: { code: 'UNPINNED_ERR_STORE_UNAVAILABLE' } });
    });

    it('has the login durable before the redirect arrives', async () => {
      const app = await serve(memory());
      for (let i = 0; i < 10; i++) {
        const login = await call(app, 'POST', '/login');
        expect(login.res.status).toBe(303);
        expect(JSON.parse((await call(app, 'GET', '/data', login.cookie)).text)).toEqual({ user: 'ann' });
      }
    });
  });
}
