/** Helpers for driving the session core without a web framework. */
import { afterAll, beforeAll } from 'vitest';
import { createSessions, type SessionManager } from '../../src/session/manager.js';
import type { SessionOptions } from '../../src/session/options.js';
import type { Session } from '../../src/session/session.js';
import type { SessionStore } from '../../src/session/store.js';
import { memoryStore } from '../../src/stores/memory/index.js';
import { type RedisStore, redisStore } from '../../src/stores/redis/index.js';
import { sqliteStore } from '../../src/stores/sqlite/index.js';
import { findRedisServer, RedisServer } from './redis-server.js';

export class FakeClock {
  t = Date.now();
  now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

const STORE_METHODS = [
  'load',
  'write',
  'increment',
  'touch',
  'destroy',
  'listByUser',
  'destroyForUser',
  'destroyByUser',
] as const;

/** A store that forwards to `inner` (whose private fields need it as `this`), with some methods replaced. */
export function wrapStore(inner: SessionStore, overrides: Partial<SessionStore> = {}): SessionStore {
  const wrapped: Record<string, unknown> = { name: inner.name, shared: inner.shared };
  for (const method of STORE_METHODS) wrapped[method] = overrides[method] ?? inner[method].bind(inner);
  return wrapped as unknown as SessionStore;
}

export type CountingStore = SessionStore & { calls: Record<string, number>; total(): number };

/** A store wrapper that counts calls per method: "no store call" is then an exact assertion. */
export function countingStore(inner: SessionStore): CountingStore {
  const calls: Record<string, number> = {};
  const overrides: Record<string, unknown> = {};
  for (const method of STORE_METHODS) {
    overrides[method] = (...args: unknown[]) => {
      calls[method] = (calls[method] ?? 0) + 1;
      return (inner[method] as (...a: unknown[]) => unknown).apply(inner, args);
    };
  }
  const wrapped = wrapStore(inner, overrides) as CountingStore;
  wrapped.calls = calls;
  wrapped.total = () => Object.values(calls).reduce((a, b) => a + b, 0);
  return wrapped;
}

/** A one-cookie browser: sends its cookie, applies Set-Cookie answers. */
export class CookieJar {
  cookie: string | null = null;
  maxAge: number | null = null;

  header(): string | undefined {
    return this.cookie ?? undefined;
  }

  apply(setCookie: string | null): void {
    if (!setCookie) return;
    const [pair, ...attributes] = setCookie.split('; ');
    const maxAge = attributes.find((a) => a.startsWith('Max-Age='));
    this.maxAge = maxAge ? Number(maxAge.slice(8)) : null;
    this.cookie = this.maxAge === 0 ? null : pair!;
  }

  get token(): string | null {
    return this.cookie ? this.cookie.slice(this.cookie.indexOf('=') + 1) : null;
  }
}

/** Run one "request": make a session from the jar, let `fn` use it, commit, apply the cookie. */
export async function request<T>(
  sessions: SessionManager,
  jar: CookieJar,
  fn: (session: Session) => Promise<T>,
): Promise<T> {
  const session = sessions.fromCookie(jar.header(), { secure: false });
  const result = await fn(session);
  jar.apply((await session.commit()).setCookie);
  return result;
}

export interface StoreKind {
  name: string;
  make(clock: FakeClock): SessionStore;
  redis?: RedisStore;
  url?: string;
}

/**
 * The stores core tests run against: memory always; Redis when redis-server is
 * on PATH (its own private server), and required under CI=true.
 */
export function storeKinds(): StoreKind[] {
  const kinds: StoreKind[] = [
    { name: 'memory', make: (clock) => memoryStore({ now: clock.now, quiet: true }) },
    // Each test gets its own in-memory database, judged by the test's clock.
    { name: 'sqlite', make: (clock) => sqliteStore({ path: ':memory:', now: clock.now }) },
  ];
  if (!findRedisServer()) {
    if (process.env.CI === 'true')
      throw new Error('redis-server is not on PATH but CI=true: Redis tests must run.');
    console.warn(
      '\n!!! SKIPPING the Redis half of the session core tests: redis-server is not on PATH. !!!\n',
    );
    return kinds;
  }
  let server: RedisServer;
  const kind: StoreKind = {
    name: 'redis',
    make: () => {
      if (!kind.redis) throw new Error('redis not started');
      return kind.redis;
    },
  };
  beforeAll(async () => {
    server = await RedisServer.start();
    kind.url = server.url;
    kind.redis = redisStore({ url: server.url });
    await kind.redis.ready();
  });
  afterAll(async () => {
    await kind.redis?.close();
    await server?.close();
  });
  kinds.push(kind);
  return kinds;
}

export function manager(
  store: SessionStore,
  clock: FakeClock,
  options: Partial<SessionOptions> = {},
): SessionManager {
  return createSessions({ store, now: clock.now, ...options });
}
