/**
 * The session invariants of DESIGN §3, run against every store kind (memory and
 * a real redis-server). Each test fails if its invariant breaks.
 */
import { describe, expect, it } from 'vitest';
import { UnpinnedError } from '../../src/session/errors.js';
import type { Session } from '../../src/session/session.js';
import type { SessionStore } from '../../src/session/store.js';
import { sessionIdOf } from '../../src/session/token.js';
import {
  CookieJar,
  countingStore,
  FakeClock,
  manager,
  request,
  storeKinds,
  wrapStore,
} from '../helpers/sessions.js';

for (const kind of storeKinds()) {
  describe(`session core on ${kind.name}`, () => {
    const setup = (options: Parameters<typeof manager>[2] = {}) => {
      const clock = new FakeClock();
      const store = countingStore(kind.make(clock));
      return { clock, store, sessions: manager(store, clock, options), jar: new CookieJar() };
    };

    describe('token (§3.1)', () => {
      it('sets a 256-bit token cookie and keys the store by its hash only', async () => {
        const { sessions, jar, store } = setup();
        await request(sessions, jar, (s) => s.set('a', 1));
        expect(jar.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
        const id = sessionIdOf(jar.token!);
        expect(await store.load(id)).not.toBeNull();
        // The raw token is not a key the store answers to.
        expect(await store.load(jar.token!)).toBeNull();
      });

      it('never adopts a token the store does not know (no fixation)', async () => {
        const { sessions, jar } = setup();
        const planted = 'A'.repeat(43);
        jar.cookie = `sid=${planted}`;
        await request(sessions, jar, (s) => s.set('a', 1));
        expect(jar.token).not.toBe(planted);
        expect(jar.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      });
    });

    describe('lazy (§3.2)', () => {
      it('makes no store call when the handler never touches the session, even with a cookie', async () => {
        const { sessions, jar, store } = setup();
        await request(sessions, jar, (s) => s.set('a', 1));
        const before = store.total();
        const session = sessions.fromCookie(jar.header(), { secure: false });
        expect(await session.commit()).toEqual({ setCookie: null });
        expect(store.total()).toBe(before);
      });

      it('creates no session and sets no cookie for a visitor who only reads', async () => {
        const { sessions, jar, store } = setup();
        const value = await request(sessions, jar, (s) => s.get('cart'));
        expect(value).toBeUndefined();
        expect(jar.cookie).toBeNull();
        // No cookie: nothing to look up either.
        expect(store.total()).toBe(0);
      });

      it('creates nothing when a write is undone in the same request', async () => {
        const { sessions, jar, store } = setup();
        await request(sessions, jar, async (s) => {
          await s.set('a', 1);
          await s.delete('a');
        });
        expect(jar.cookie).toBeNull();
        expect(store.calls.write ?? 0).toBe(0);
      });
    });

    describe('reads (§3.3, §3.4)', () => {
      it('costs one store call and no write for a read-only request', async () => {
        const { sessions, jar, store } = setup();
        await request(sessions, jar, (s) => s.set('a', 1));
        const before = { ...store.calls };
        const value = await request(sessions, jar, async (s) => [
          await s.get('a'),
          await s.has('a'),
          await s.all(),
        ]);
        expect(value).toEqual([1, true, { a: 1 }]);
        expect(store.calls.load! - (before.load ?? 0)).toBe(1);
        expect(store.total() - Object.values(before).reduce((a, b) => a + b, 0)).toBe(1);
        expect(sessions.metrics.touchesSkipped).toBe(1);
      });

      it('refreshes the idle window only after the configured share has passed, cookie in step', async () => {
        const { sessions, jar, store, clock } = setup({ idleTimeout: 1000, touchAfter: 0.5 });
        await request(sessions, jar, (s) => s.set('a', 1));
        expect(jar.maxAge).toBe(1000);
        clock.advance(400 * 1000);
        const cookieBefore = jar.cookie;
        await request(sessions, jar, (s) => s.get('a'));
        expect(store.calls.touch ?? 0).toBe(0);
        expect(jar.cookie).toBe(cookieBefore);
        clock.advance(200 * 1000);
        await request(sessions, jar, (s) => s.get('a'));
        expect(store.calls.touch).toBe(1);
        expect(jar.maxAge).toBe(1000);
        expect(sessions.metrics.touches).toBe(1);
      });
    });

    describe('delta commits and atomic updates (§3.5, §3.6)', () => {
      it('lands concurrent requests that change different keys', async () => {
        const { sessions, jar } = setup();
        await request(sessions, jar, (s) => s.set('seed', 0));
        const requests = Array.from({ length: 30 }, () =>
          sessions.fromCookie(jar.header(), { secure: false }),
        );
        for (const s of requests) await s.get('seed');
        await Promise.all(requests.map((s, i) => s.set(`k${i}`, i).then(() => s.commit())));
        const all = await request(sessions, jar, (s) => s.all());
        expect(Object.keys(all)).toHaveLength(31);
      });

      it('lands every concurrent update() of one key', async () => {
        const { sessions, jar } = setup();
        await request(sessions, jar, (s) => s.set('cart', []));
        const requests = Array.from({ length: 25 }, () =>
          sessions.fromCookie(jar.header(), { secure: false }),
        );
        // All read the same starting value first, so every update but one starts stale.
        for (const s of requests) await s.get('cart');
        await Promise.all(
          requests.map((s, i) =>
            s.update<number[]>('cart', (cart = []) => [...cart, i]).then(() => s.commit()),
          ),
        );
        const cart = await request(sessions, jar, (s) => s.get<number[]>('cart'));
        expect([...cart!].sort((a, b) => a - b)).toEqual(Array.from({ length: 25 }, (_, i) => i));
        expect(sessions.metrics.conflictsRetried).toBeGreaterThan(0);
      });

      it('increments atomically without retries', async () => {
        const { sessions, jar } = setup();
        await request(sessions, jar, (s) => s.increment('views'));
        const requests = Array.from({ length: 40 }, () =>
          sessions.fromCookie(jar.header(), { secure: false }),
        );
        await Promise.all(requests.map((s) => s.increment('views', 2).then(() => s.commit())));
        expect(await request(sessions, jar, (s) => s.get('views'))).toBe(81);
        expect(sessions.metrics.conflictsRetried).toBe(0);
      });

      it('is last-writer-wins for a plain set of the same key, by documented choice', async () => {
        const { sessions, jar } = setup();
        await request(sessions, jar, (s) => s.set('theme', 'light'));
        const a = sessions.fromCookie(jar.header(), { secure: false });
        const b = sessions.fromCookie(jar.header(), { secure: false });
        await a.set('theme', 'dark');
        await b.set('theme', 'blue');
        await a.commit();
        await b.commit();
        expect(await request(sessions, jar, (s) => s.get('theme'))).toBe('blue');
      });

      it('gives up with a typed error when update() cannot win', async () => {
        const clock = new FakeClock();
        const inner = kind.make(clock);
        // Another server changes the key between every read and every compare-and-set.
        const racing = wrapStore(inner, {
          write: async (id, write) => {
            for (const [key] of write.expect ?? []) await inner.increment(id, key, 1);
            return inner.write(id, write);
          },
        });
        const sessions = manager(racing, clock, { maxUpdateAttempts: 3 });
        const jar = new CookieJar();
        await request(sessions, jar, (s) => s.set('n', 0));
        const s = sessions.fromCookie(jar.header(), { secure: false });
        const error = await s.update<number>('n', (n = 0) => n + 100).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(UnpinnedError);
        expect(error).toMatchObject({ code: 'UNPINNED_ERR_UPDATE_CONFLICT' });
        expect(sessions.metrics.conflictsRetried).toBe(3);
        // Nothing of the lost update landed; only the other server's increments did.
        expect(await request(sessions, jar, (x) => x.get('n'))).toBe(3);
      });
    });

    describe('logout sticks (§3.7)', () => {
      it('does not re-create a session destroyed while a slow request ran', async () => {
        const { sessions, jar, store } = setup();
        await request(sessions, jar, (s) => s.set('user', 'ann'));
        const slow = sessions.fromCookie(jar.header(), { secure: false });
        await slow.get('user');
        await request(sessions, new CookieJar(), async () => {});
        const logout = sessions.fromCookie(jar.header(), { secure: false });
        await logout.destroy();
        expect((await logout.commit()).setCookie).toMatch(/^sid=; Max-Age=0/);
        await slow.set('cart', ['x']);
        const outcome = await slow.commit();
        expect(outcome.setCookie).toBeNull();
        expect(await store.load(sessionIdOf(jar.token!))).toBeNull();
        expect(sessions.metrics.resurrectionsBlocked).toBe(1);
      });

      it('refuses atomic changes to a destroyed session with SESSION_ENDED', async () => {
        const { sessions, jar } = setup();
        await request(sessions, jar, (s) => s.set('n', 1));
        const slow = sessions.fromCookie(jar.header(), { secure: false });
        await slow.get('n');
        await request(sessions, jar, (s) => s.destroy());
        await expect(slow.increment('n')).rejects.toMatchObject({ code: 'UNPINNED_ERR_SESSION_ENDED' });
        const slow2 = sessions.fromCookie(`sid=${'B'.repeat(43)}`, { secure: false });
        await slow2.set('n', 1);
        await slow2.commit();
      });
    });

    describe('timeouts (§3.8)', () => {
      it('ends a session after the idle timeout', async () => {
        const { sessions, jar, clock } = setup({ idleTimeout: 60 });
        await request(sessions, jar, (s) => s.set('a', 1));
        clock.advance(59_000);
        expect(await request(sessions, jar, (s) => s.get('a'))).toBe(1);
        clock.advance(60_001);
        expect(await request(sessions, jar, (s) => s.get('a'))).toBeUndefined();
      });

      it('ends a busy session at its absolute timeout, cookie Max-Age capped by it', async () => {
        const { sessions, jar, clock } = setup({ idleTimeout: 600, absoluteTimeout: 1000, touchAfter: 0 });
        await request(sessions, jar, (s) => s.set('a', 1));
        expect(jar.maxAge).toBe(600);
        for (let i = 0; i < 9; i++) {
          clock.advance(100_000);
          expect(await request(sessions, jar, (s) => s.get('a'))).toBe(1);
        }
        // 900 s in: only 100 s of absolute lifetime remain.
        expect(jar.maxAge).toBe(100);
        clock.advance(100_000);
        expect(await request(sessions, jar, (s) => s.get('a'))).toBeUndefined();
      });

      it('sets the store expiry to the idle window capped by the absolute expiry', async () => {
        const { sessions, jar } = setup({ idleTimeout: 600, absoluteTimeout: 300 });
        await request(sessions, jar, (s) => s.set('a', 1));
        if (!kind.redis || !kind.url) return;
        const ttl = await redisTtl(kind.url, kind.redis.sessionKey(sessionIdOf(jar.token!)));
        expect(ttl).toBeGreaterThan(290_000);
        expect(ttl).toBeLessThanOrEqual(300_000);
      });
    });

    describe('regenerate (§3.9)', () => {
      it('issues a new token, keeps the data, and kills the old token', async () => {
        const { sessions, jar } = setup();
        await request(sessions, jar, (s) => s.set('cart', ['a']));
        const oldJar = new CookieJar();
        oldJar.cookie = jar.cookie;
        await request(sessions, jar, async (s) => {
          await s.regenerate();
          await s.set('user', 'ann');
        });
        expect(jar.token).not.toBe(oldJar.token);
        expect(await request(sessions, jar, (s) => s.all())).toEqual({ cart: ['a'], user: 'ann' });
        expect(await request(sessions, oldJar, (s) => s.all())).toEqual({});
      });

      it('can drop the data', async () => {
        const { sessions, jar } = setup();
        await request(sessions, jar, (s) => s.set('cart', ['a']));
        await request(sessions, jar, (s) =>
          s.regenerate({ keepData: false }).then(() => s.set('fresh', true)),
        );
        expect(await request(sessions, jar, (s) => s.all())).toEqual({ fresh: true });
      });

      it('keeps the old token readable during a grace window only', async () => {
        const { sessions, jar, clock } = setup({ regenerateGrace: 30 });
        await request(sessions, jar, (s) => s.set('cart', ['a']));
        const oldJar = new CookieJar();
        oldJar.cookie = jar.cookie;
        await request(sessions, jar, (s) => s.regenerate());
        expect(await request(sessions, oldJar, (s) => s.get('cart'))).toEqual(['a']);
        if (kind.redis && kind.url) {
          // Redis expires it on its own clock: the key's TTL is the grace window.
          const ttl = await redisTtl(kind.url, kind.redis.sessionKey(sessionIdOf(oldJar.token!)));
          expect(ttl).toBeGreaterThan(0);
          expect(ttl).toBeLessThanOrEqual(30_000);
        } else {
          clock.advance(30_001);
          expect(await request(sessions, oldJar, (s) => s.get('cart'))).toBeUndefined();
        }
        expect(await request(sessions, jar, (s) => s.get('cart'))).toEqual(['a']);
      });

      it('issues a new token when an existing session binds to another user (a login without regenerate)', async () => {
        const { sessions, jar } = setup();
        // The token a fixation attack would plant: a real, anonymous session.
        await request(sessions, jar, (s) => s.set('cart', ['a']));
        const planted = new CookieJar();
        planted.cookie = jar.cookie;
        await request(sessions, jar, (s) => s.bindUser('ann'));
        expect(jar.token).not.toBe(planted.token);
        expect(await request(sessions, jar, async (s) => [await s.userId(), await s.get('cart')])).toEqual([
          'ann',
          ['a'],
        ]);
        expect(await request(sessions, planted, (s) => s.userId())).toBeNull();
        // The same user again is no login: the token stays.
        const ann = jar.token;
        await request(sessions, jar, (s) => s.bindUser('ann'));
        expect(jar.token).toBe(ann);
        // Another user is: a new token again.
        await request(sessions, jar, (s) => s.bindUser('bob'));
        expect(jar.token).not.toBe(ann);
        expect(await request(sessions, jar, (s) => s.userId())).toBe('bob');
      });

      it('regenerates once when the handler already did, and not at all when turned off', async () => {
        const { sessions, jar } = setup();
        await request(sessions, jar, (s) => s.set('cart', ['a']));
        await request(sessions, jar, async (s) => {
          await s.regenerate();
          await s.bindUser('ann');
        });
        expect(sessions.metrics.regenerations).toBe(1);
        const off = setup({ regenerateOnBind: false });
        await request(off.sessions, off.jar, (s) => s.set('cart', ['a']));
        const before = off.jar.token;
        await request(off.sessions, off.jar, (s) => s.bindUser('ann'));
        expect(off.jar.token).toBe(before);
        expect(await request(off.sessions, off.jar, (s) => s.userId())).toBe('ann');
      });

      it('works for a visitor who had no session yet, without a store call', async () => {
        const { sessions, jar, store } = setup();
        await request(sessions, jar, async (s) => {
          await s.regenerate();
          await s.bindUser('ann');
        });
        expect(store.calls.write).toBe(1);
        expect(store.calls.destroy ?? 0).toBe(0);
        expect(jar.token).not.toBeNull();
      });
    });

    describe('per-user index (§3.10)', () => {
      it('lists, revokes one, and logs out everywhere except here', async () => {
        const { sessions } = setup();
        const user = `user-${Math.random().toString(36).slice(2)}`;
        const devices = [new CookieJar(), new CookieJar(), new CookieJar()];
        for (const jar of devices) await request(sessions, jar, (s) => s.bindUser(user));
        const listed = await sessions.listUserSessions(user);
        expect(listed).toHaveLength(3);
        expect(listed.map((s) => s.id).sort()).toEqual(devices.map((d) => sessionIdOf(d.token!)).sort());

        expect(await sessions.revokeUserSession('intruder', listed[0]!.id)).toBe(false);
        expect(await sessions.revokeUserSession(user, sessionIdOf(devices[0]!.token!))).toBe(true);
        expect(await request(sessions, devices[0]!, (s) => s.userId())).toBeNull();

        const count = await request(sessions, devices[1]!, (s) =>
          sessions.revokeUserSessions(user, { except: s }),
        );
        expect(count).toBe(1);
        expect(await request(sessions, devices[1]!, (s) => s.userId())).toBe(user);
        expect(await request(sessions, devices[2]!, (s) => s.userId())).toBeNull();
        expect(await sessions.listUserSessions(user)).toHaveLength(1);
      });
    });

    describe('bad input (§3.13)', () => {
      it('refuses an oversized session with a typed error and keeps what was stored', async () => {
        const { sessions, jar } = setup({ maxSessionBytes: 1024 });
        await request(sessions, jar, (s) => s.set('small', 'x'));
        const error = await request(sessions, jar, (s) => s.set('big', 'y'.repeat(2000))).catch((e) => e);
        expect(error).toMatchObject({ code: 'UNPINNED_ERR_SESSION_TOO_LARGE', statusCode: 413 });
        expect(await request(sessions, jar, (s) => s.all())).toEqual({ small: 'x' });
        expect(sessions.metrics.tooLarge).toBe(1);
      });

      it('rejects values that are not JSON and keys that are reserved', async () => {
        const { sessions, jar } = setup();
        const s = sessions.fromCookie(jar.header(), { secure: false });
        await expect(s.set('f', () => 1)).rejects.toMatchObject({ code: 'UNPINNED_ERR_NOT_SERIALIZABLE' });
        await expect(s.set('b', 10n)).rejects.toMatchObject({ code: 'UNPINNED_ERR_NOT_SERIALIZABLE' });
        await expect(s.set('$c', 1)).rejects.toMatchObject({ code: 'UNPINNED_ERR_INVALID_KEY' });
        await expect(s.set('', 1)).rejects.toMatchObject({ code: 'UNPINNED_ERR_INVALID_KEY' });
        const cycle: Record<string, unknown> = {};
        cycle.self = cycle;
        await expect(s.set('c', cycle)).rejects.toMatchObject({ code: 'UNPINNED_ERR_NOT_SERIALIZABLE' });
      });

      it('refuses changes after the commit instead of losing them silently', async () => {
        const { sessions, jar } = setup();
        const s = sessions.fromCookie(jar.header(), { secure: false });
        await s.commit();
        await expect(s.set('late', 1)).rejects.toMatchObject({ code: 'UNPINNED_ERR_SESSION_COMMITTED' });
      });
    });

    describe('edge cases found in review', () => {
      it('gives the adapter the same cookie when the handler committed first (commit before a redirect)', async () => {
        const { sessions, jar } = setup();
        const s = sessions.fromCookie(jar.header(), { secure: false });
        await s.regenerate();
        await s.bindUser('ann');
        const handlers = await s.commit();
        const adapters = await s.commit();
        expect(handlers.setCookie).toMatch(/^sid=[A-Za-z0-9_-]{43};/);
        expect(adapters).toEqual(handlers);
      });

      it('keeps an unbind that came before a regenerate', async () => {
        const { sessions, jar } = setup();
        const user = `bob-${Math.random().toString(36).slice(2)}`;
        await request(sessions, jar, (s) => s.bindUser(user));
        await request(sessions, jar, async (s) => {
          await s.unbindUser();
          await s.regenerate();
        });
        expect(await request(sessions, jar, (s) => s.userId())).toBeNull();
        expect(await sessions.listUserSessions(user)).toEqual([]);
      });

      it('refuses writes through a token retired by regenerate, even within its grace window', async () => {
        const { sessions, jar } = setup({ regenerateGrace: 30 });
        const user = `carol-${Math.random().toString(36).slice(2)}`;
        await request(sessions, jar, async (s) => {
          await s.bindUser(user);
          await s.set('cart', ['a']);
        });
        const inFlight = sessions.fromCookie(jar.header(), { secure: false });
        await inFlight.get('cart');
        await request(sessions, jar, (s) => s.regenerate());
        await inFlight.set('cart', ['a', 'late']);
        await inFlight.commit();
        expect(sessions.metrics.resurrectionsBlocked).toBe(1);
        // Log out everywhere reaches every token: the retired one cannot have been revived.
        await sessions.revokeUserSessions(user);
        expect(await request(sessions, jar, (s) => s.exists())).toBe(false);
      });

      it('adds to a value this request set before incrementing it', async () => {
        const { sessions, jar } = setup();
        await request(sessions, jar, (s) => s.set('n', 10));
        const n = await request(sessions, jar, async (s) => {
          await s.set('n', 0);
          return s.increment('n');
        });
        expect(n).toBe(1);
        expect(await request(sessions, jar, (s) => s.get('n'))).toBe(1);
      });

      it('works with timeouts in fractions of a second and a fractional clock', async () => {
        const clock = new FakeClock();
        clock.t += 0.5;
        const sessions = manager(kind.make(clock), clock, { idleTimeout: 60.0005, absoluteTimeout: 3600.25 });
        const jar = new CookieJar();
        await request(sessions, jar, (s) => s.set('a', 1));
        expect(await request(sessions, jar, (s) => s.get('a'))).toBe(1);
      });

      it('leaves no second live token when the store fails in the middle of a regenerate', async () => {
        const clock = new FakeClock();
        const inner = kind.make(clock);
        let failDestroy = false;
        const flaky = wrapStore(inner, {
          destroy: (id, options) =>
            failDestroy ? Promise.reject(new Error('down')) : inner.destroy(id, options),
        });
        const sessions = manager(flaky, clock);
        const jar = new CookieJar();
        await request(sessions, jar, (s) => s.set('cart', ['a']));
        const s = sessions.fromCookie(jar.header(), { secure: false });
        failDestroy = true;
        await expect(s.regenerate()).rejects.toMatchObject({ code: 'UNPINNED_ERR_STORE_UNAVAILABLE' });
        failDestroy = false;
        expect((await s.commit()).setCookie).toBeNull();
        // The old token still works, so the user can retry the login.
        expect(await request(sessions, jar, (x) => x.get('cart'))).toEqual(['a']);
      });
    });

    describe('observability (§3.14)', () => {
      it('counts loads, hits, misses, writes and exposes them for Prometheus', async () => {
        const { sessions, jar } = setup();
        await request(sessions, jar, (s) => s.set('a', 1));
        await request(sessions, jar, (s) => s.get('a'));
        await request(sessions, new CookieJar(), async (s) => {
          // A well-formed token nobody issued: a miss, not an error.
          void s;
        });
        const stranger = new CookieJar();
        stranger.cookie = `sid=${'C'.repeat(43)}`;
        await request(sessions, stranger, (s) => s.get('a'));
        expect(sessions.metrics.snapshot()).toMatchObject({
          loads: 2,
          hits: 1,
          misses: 1,
          creates: 1,
          writes: 1,
        });
        const text = await sessions.prometheus();
        expect(text).toContain(
          '# TYPE unpinned_session_loads_total counter\nunpinned_session_loads_total 2\n',
        );
        expect(text).toContain('unpinned_session_resurrections_blocked_total 0');
      });

      it('never hands a token to the store, an error message or a metric (only its hash)', async () => {
        const jar = new CookieJar();
        const inner = kind.make(new FakeClock());
        const seen: string[] = [];
        let failing = false;
        const overrides: Record<string, unknown> = {};
        for (const method of ['load', 'write', 'increment', 'touch', 'destroy', 'destroyByUser'] as const) {
          overrides[method] = (...args: unknown[]) => {
            const text = JSON.stringify(args, (_k, v) => (v instanceof Map ? [...v] : v));
            seen.push(text);
            // A store whose errors echo everything it was given.
            if (failing) return Promise.reject(new Error(`${method} failed for ${text}`));
            return (inner[method] as (...a: unknown[]) => unknown).apply(inner, args);
          };
        }
        const recorded = manager(wrapStore(inner, overrides as Partial<SessionStore>), new FakeClock());
        const tokens: string[] = [];
        const step = async <T>(fn: (s: Session) => Promise<T>) => {
          const result = await request(recorded, jar, fn);
          if (jar.token) tokens.push(jar.token);
          return result;
        };
        await step((s) => s.set('cart', ['a']));
        await step((s) => s.update<string[]>('cart', (c = []) => [...c, 'b']));
        await step((s) => s.increment('n'));
        await step((s) => s.bindUser('ann'));
        await step((s) => s.regenerate());
        await step((s) => recorded.revokeUserSessions('ann', { except: s }));
        failing = true;
        const error = (await step((s) => s.get('cart')).catch((e: unknown) => e)) as UnpinnedError;
        expect(error.code).toBe('UNPINNED_ERR_STORE_UNAVAILABLE');
        failing = false;
        await step((s) => s.destroy());
        expect(new Set(tokens).size).toBeGreaterThanOrEqual(2);
        const exposed = [
          ...seen,
          error.message,
          String((error.cause as Error).message),
          await recorded.prometheus(),
          JSON.stringify(recorded.metrics.snapshot()),
        ].join('\n');
        for (const token of tokens) {
          expect(exposed).not.toContain(token);
          // What the store and the error see instead: the token's SHA-256.
          expect(exposed).toContain(sessionIdOf(token));
        }
      });
    });
  });
}

describe('store failures (§3.12)', () => {
  it('turns any store failure into STORE_UNAVAILABLE with the cause, never a miss', async () => {
    const clock = new FakeClock();
    const boom = new Error('connection refused');
    const failing = new Proxy({} as SessionStore, {
      get: (_t, prop) => (prop === 'name' ? 'failing' : () => Promise.reject(boom)),
    });
    const sessions = manager(failing, clock);
    const s = sessions.fromCookie(`sid=${'D'.repeat(43)}`, { secure: false });
    const error = await s.get('a').catch((e: UnpinnedError) => e);
    expect(error).toBeInstanceOf(UnpinnedError);
    expect(error).toMatchObject({ code: 'UNPINNED_ERR_STORE_UNAVAILABLE', statusCode: 503, cause: boom });
    expect((error as UnpinnedError).headers?.['retry-after']).toBe('1');
    expect(sessions.metrics.storeErrors).toBe(1);
    expect(sessions.metrics.misses).toBe(0);
  });
});

async function redisTtl(url: string, key: string): Promise<number> {
  const { createClient } = await import('redis');
  const client = createClient({ url });
  await client.connect();
  try {
    return await client.pTTL(key);
  } finally {
    await client.close();
  }
}
