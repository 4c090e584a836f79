/**
 * Commit before respond (§3.11), made deterministic: a store whose writes fail.
 * If the response could leave before the commit, these clients would see a
 * success; they must see a 503 instead.
 */
import type { AddressInfo } from 'node:net';
import compression from 'compression';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { unpinned } from '../../src/adapters/express/index.js';
import { createSessions } from '../../src/session/manager.js';
import type { SessionStore } from '../../src/session/store.js';
import { memoryStore } from '../../src/stores/memory/index.js';
import { wrapStore } from '../helpers/sessions.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function serve(
  store: SessionStore,
  setup: (app: express.Express) => void,
  routes: (app: express.Express) => void = () => {},
): Promise<string> {
  const app = express();
  setup(app);
  const sessions = createSessions({ store });
  app.use(unpinned(sessions));
  routes(app);
  app.post('/write', async (req, res) => {
    await req.session.set('a', 1);
    res.status(200).send('saved');
  });
  app.post('/stream', async (req, res) => {
    await req.session.set('a', 1);
    res.type('text');
    res.write('part one, ');
    res.end('part two');
  });
  app.get('/late', (req, res) => {
    res.send('sent first');
    req.session.set('late', 1).then(
      () => {},
      (error: { code: string }) => {
        lateError = error.code;
      },
    );
  });
  app.get('/late-read', (req, res) => {
    res.send('sent first');
    // A first read after the response started: refused, as a rejection like every session call.
    try {
      req.session.get('a').then(
        () => {
          lateError = 'read';
        },
        (error: { code: string }) => {
          lateError = `rejected ${error.code}`;
        },
      );
    } catch (error) {
      lateError = `thrown ${(error as { code: string }).code}`;
    }
  });
  app.get('/guest', async (req, res) => {
    // The handler copes with a store outage itself: its answer must stand.
    const name = await req.session.get('name').catch(() => 'guest');
    res.send(`hello ${name}`);
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

let lateError: string | null = null;
const failingWrites = () =>
  wrapStore(memoryStore({ quiet: true }), { write: () => Promise.reject(new Error('write refused')) });

describe('commit before respond', () => {
  it('answers 503, not the handler’s 200, when the commit fails', async () => {
    const url = await serve(failingWrites(), () => {});
    const res = await fetch(`${url}/write`, { method: 'POST' });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(res.headers.get('set-cookie')).toBeNull();
    expect(await res.json()).toMatchObject({ error: { code: 'UNPINNED_ERR_STORE_UNAVAILABLE' } });
  });

  it('holds a streamed response too, and with compression installed first', async () => {
    const url = await serve(failingWrites(), (app) => app.use(compression({ threshold: 0 })));
    const res = await fetch(`${url}/stream`, { method: 'POST', headers: { 'accept-encoding': 'gzip' } });
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: { code: 'UNPINNED_ERR_STORE_UNAVAILABLE' } });
    const ok = await serve(memoryStore({ quiet: true }), (app) => app.use(compression({ threshold: 0 })));
    const good = await fetch(`${ok}/stream`, { method: 'POST', headers: { 'accept-encoding': 'gzip' } });
    expect(good.status).toBe(200);
    expect(good.headers.get('content-encoding')).toBe('gzip');
    expect(good.headers.get('set-cookie')).toMatch(
      /^sid=[A-Za-z0-9_-]{43}; Max-Age=\d+; Path=\/; HttpOnly; SameSite=Lax$/,
    );
    expect(await good.text()).toBe('part one, part two');
  });

  it('refuses a session change after the response started, instead of losing it', async () => {
    const url = await serve(memoryStore({ quiet: true }), () => {});
    lateError = null;
    expect(await (await fetch(`${url}/late`)).text()).toBe('sent first');
    await expect.poll(() => lateError).toBe('UNPINNED_ERR_SESSION_COMMITTED');
  });

  it('refuses a first read after the response started with a rejection, never a throw', async () => {
    const url = await serve(memoryStore({ quiet: true }), () => {});
    lateError = null;
    const res = await fetch(`${url}/late-read`, { headers: { cookie: `sid=${'Z'.repeat(43)}` } });
    expect(await res.text()).toBe('sent first');
    await expect.poll(() => lateError).toBe('rejected UNPINNED_ERR_SESSION_COMMITTED');
  });

  it('leaves alone a response the handler gave after catching a store outage', async () => {
    const down = wrapStore(memoryStore({ quiet: true }), { load: () => Promise.reject(new Error('down')) });
    const url = await serve(down, () => {});
    const res = await fetch(`${url}/guest`, { headers: { cookie: `sid=${'Z'.repeat(43)}` } });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('hello guest');
  });
});

describe('commit gate edge cases', () => {
  const extra = (app: express.Express) => {
    app.post('/commit-then-redirect', async (req, res) => {
      await req.session.set('user', 'ann');
      await req.session.commit();
      res.redirect(303, '/');
    });
    app.post('/own-cookie', async (req, res) => {
      await req.session.set('a', 1);
      res.writeHead(302, { 'Set-Cookie': 'flash=hi', location: '/' });
      res.end();
    });
    app.post('/bad-write', async (req, res) => {
      await req.session.set('a', 1);
      (res.write as (chunk: unknown) => boolean)(42);
      res.end();
    });
  };

  it('sends the session cookie when the handler committed before redirecting', async () => {
    const url = await serve(memoryStore({ quiet: true }), () => {}, extra);
    const res = await fetch(`${url}/commit-then-redirect`, { method: 'POST', redirect: 'manual' });
    expect(res.status).toBe(303);
    expect(res.headers.get('set-cookie')).toMatch(/^sid=[A-Za-z0-9_-]{43};/);
  });

  it('keeps both the handler’s Set-Cookie given to writeHead and the session cookie', async () => {
    const url = await serve(memoryStore({ quiet: true }), () => {}, extra);
    const res = await fetch(`${url}/own-cookie`, { method: 'POST', redirect: 'manual' });
    expect(res.status).toBe(302);
    const cookies = res.headers.getSetCookie();
    expect(cookies).toContain('flash=hi');
    expect(cookies.some((c) => /^sid=[A-Za-z0-9_-]{43};/.test(c))).toBe(true);
  });

  it('answers 500 to a bad response call instead of crashing the process', async () => {
    const url = await serve(memoryStore({ quiet: true }), () => {}, extra);
    const res = await fetch(`${url}/bad-write`, { method: 'POST' });
    expect(res.status).toBe(500);
  });
});

describe('responses with nothing to commit', () => {
  /** An app whose handlers report whether their response had left when res.send() returned. */
  async function app(now: () => number) {
    const sessions = createSessions({
      store: memoryStore({ quiet: true }),
      now,
      idleTimeout: 1800,
      touchAfter: 0.1,
    });
    const server = express()
      .use(unpinned(sessions))
      .post('/login', async (req, res) => {
        await req.session.set('user', 'ann');
        res.send('in');
      })
      .get('/read', async (req, res) => {
        const user = await req.session.get('user');
        res.send(String(user));
        // Whether the response left in res.send() itself, or is held for a commit.
        reads.push(res.headersSent);
      })
      .listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    closers.push(() => new Promise((resolve) => server.close(() => resolve())));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }
  const reads: boolean[] = [];

  it('leave in the same call when the read needs no write, and wait for the touch when one is due', async () => {
    // The memory store expires entries by the wall clock: start from it.
    let clock = Date.now();
    const url = await app(() => clock);
    const login = await fetch(`${url}/login`, { method: 'POST' });
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    reads.length = 0;
    // Within the touch interval: nothing to write, so nothing to wait for.
    const quiet = await fetch(`${url}/read`, { headers: { cookie } });
    expect(await quiet.text()).toBe('ann');
    expect(quiet.headers.get('set-cookie')).toBeNull();
    // Past it (a tenth of the 30-minute idle timeout): the touch is a store write, so the response
    // waits for it and renews the cookie.
    clock += 4 * 60_000;
    const touched = await fetch(`${url}/read`, { headers: { cookie } });
    expect(await touched.text()).toBe('ann');
    expect(touched.headers.get('set-cookie')).toMatch(/^sid=[A-Za-z0-9_-]{43};/);
    expect(reads).toEqual([true, false]);
  });
});
