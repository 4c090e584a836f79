import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SessionCookie } from '../../src/session/cookie.js';
import { generateToken } from '../../src/session/token.js';
import { memoryStore } from '../../src/stores/memory/index.js';
import { parseSession } from '../../src/stores/redis/redis-store.js';
import { CookieJar, FakeClock, manager, request } from '../helpers/sessions.js';

describe('session cookie', () => {
  const cookie = new SessionCookie();

  it('is HttpOnly, SameSite=Lax, Path=/ with a Max-Age', () => {
    expect(cookie.serialize('t', 60, false)).toBe('sid=t; Max-Age=60; Path=/; HttpOnly; SameSite=Lax');
  });

  it('uses the __Host- prefix when secure (no Domain, Path=/), __Secure- with a Domain', () => {
    expect(cookie.serialize('t', 60, true)).toBe(
      '__Host-sid=t; Max-Age=60; Path=/; HttpOnly; SameSite=Lax; Secure',
    );
    const shared = new SessionCookie({ domain: 'example.com', sameSite: 'strict' });
    expect(shared.serialize('t', 1, true)).toBe(
      '__Secure-sid=t; Max-Age=1; Path=/; Domain=example.com; HttpOnly; SameSite=Strict; Secure',
    );
  });

  it('can be a browser-session cookie (no Max-Age), still cleared with Max-Age=0', () => {
    const session = new SessionCookie({ persistent: false });
    expect(session.serialize('t', 60, true)).toBe('__Host-sid=t; Path=/; HttpOnly; SameSite=Lax; Secure');
    expect(session.clear(false)).toMatch(/^sid=; Max-Age=0; /);
  });

  it("follows the request's scheme in 'auto' mode, and can be forced", () => {
    expect(cookie.isSecure(true)).toBe(true);
    expect(cookie.isSecure(false)).toBe(false);
    expect(new SessionCookie({ secure: true }).isSecure(false)).toBe(true);
  });

  it('clears with Max-Age=0 and the same attributes', () => {
    expect(cookie.clear(true)).toMatch(
      /^__Host-sid=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=\/;/,
    );
  });

  it('reads only its own name under the scheme in use', () => {
    const token = generateToken();
    expect(cookie.readToken(`a=1; sid=${token}; b=2`, false)).toBe(token);
    expect(cookie.readToken(`sid=${token}`, true)).toBeNull();
    expect(cookie.readToken(`__Host-sid=${token}`, true)).toBe(token);
    expect(cookie.readToken(`xsid=${token}`, false)).toBeNull();
  });

  it('takes the first well-formed value among duplicates and ignores malformed ones', () => {
    const [a, b] = [generateToken(), generateToken()];
    expect(cookie.readToken(`sid=short; sid=${a}; sid=${b}`, false)).toBe(a);
    expect(cookie.readToken(`sid="${a}"`, false)).toBe(a);
    expect(cookie.readToken(`sid=${a}x`, false)).toBeNull();
    expect(cookie.readToken('sid', false)).toBeNull();
    expect(cookie.readToken(';;;=;sid=;', false)).toBeNull();
  });

  it('refuses invalid options with a typed error', () => {
    expect(() => new SessionCookie({ name: 'a b' })).toThrow(/cookie.name/);
    expect(() => new SessionCookie({ path: 'x' })).toThrow(/cookie.path/);
    expect(() => new SessionCookie({ sameSite: 'none', secure: false })).toThrow(/SameSite=None/);
    expect(() => new SessionCookie({ sameSite: 'bogus' as 'lax' })).toThrow(/UNPINNED|sameSite/);
  });
});

describe('hostile input (property-based)', () => {
  const token = fc.constantFrom(...Array.from({ length: 5 }, generateToken));
  const piece = fc.oneof(
    fc.string(),
    fc.string({ unit: 'binary' }),
    token,
    token.map((t) => `"${t}"`),
    token.map((t) => t.slice(1)),
    fc.constantFrom(';', '=', ' ', '"', ',', '\t', 'sid', '__Host-sid', '$c'),
  );
  const cookieHeader = fc
    .array(fc.tuple(fc.oneof(fc.constantFrom('sid', '__Host-sid', ' sid '), fc.string()), piece), {
      maxLength: 12,
    })
    .map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join('; '));

  it('never throws on any Cookie header, and never finds a session nobody issued', async () => {
    const clock = new FakeClock();
    const sessions = manager(memoryStore({ now: clock.now, quiet: true }), clock);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(cookieHeader, fc.string({ unit: 'binary' })),
        fc.boolean(),
        async (header, secure) => {
          const session = sessions.fromCookie(header, { secure });
          expect(await session.get('a')).toBeUndefined();
          expect(await session.exists()).toBe(false);
          const { setCookie } = await session.commit();
          expect(setCookie).toBeNull();
        },
      ),
      { numRuns: 500 },
    );
  });

  it('reads any reply shape from Redis without throwing; unreadable metadata means no session', () => {
    fc.assert(
      fc.property(fc.anything(), (reply) => {
        const parsed = parseSession(reply);
        if (parsed) {
          expect(Number.isFinite(parsed.createdAt)).toBe(true);
          expect(Number.isFinite(parsed.absoluteExpiresAt)).toBe(true);
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('ignores stored values that are not JSON instead of failing the request', async () => {
    const clock = new FakeClock();
    const store = memoryStore({ now: clock.now, quiet: true });
    const sessions = manager(store, clock);
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(
          fc.string({ minLength: 1 }).filter((k) => k[0] !== '$'),
          fc.string(),
        ),
        async (garbage) => {
          const jar = new CookieJar();
          await request(sessions, jar, (s) => s.set('ok', 1));
          const id = (await request(sessions, jar, async (s) => s.id))!;
          const stored = (await store.load(id))!;
          const write = {
            set: Object.entries(garbage),
            delete: [],
            expiresAt: clock.now() + 60_000,
            absoluteExpiresAt: stored.absoluteExpiresAt,
            now: clock.now(),
          };
          await store.write(id, write);
          const all = await request(sessions, jar, (s) => s.all());
          for (const [key, value] of Object.entries(garbage)) {
            let expected: unknown;
            try {
              expected = JSON.parse(value);
            } catch {
              expected = undefined;
            }
            expect(Object.hasOwn(all, key) ? all[key] : undefined).toEqual(expected);
          }
          await request(sessions, jar, (s) => s.set('after', true));
          expect(Object.getPrototypeOf(all)).toBe(Object.prototype);
        },
      ),
      { numRuns: 200 },
    );
  });
});
