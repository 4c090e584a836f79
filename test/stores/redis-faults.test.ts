/**
 * Redis faults beyond up and down, between real app servers and a real
 * redis-server, through the fault link (src/system/delay-link.ts): latency of
 * 5 and 50 ms, a reset in the middle of a command or after it ran but before
 * its reply, and a half-open connection (nothing forwarded, nothing closed).
 *
 * Virtual users keep working through each fault, each request bounded by one
 * command deadline plus a margin (a hang fails the test). The oracle is exact:
 * every answer is 200 (303 for a login) or 503 + Retry-After with
 * UNPINNED_ERR_STORE_UNAVAILABLE; a read that succeeds shows every write
 * acknowledged before it; afterwards Redis itself (read directly, not through
 * the link) holds every acknowledged write, counters lie between the increments
 * acknowledged and those plus the ones that failed, and a logout that was
 * acknowledged stuck. After the fault clears the same cookies work again.
 */
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSessions } from '../../src/session/manager.js';
import { generateToken, sessionIdOf } from '../../src/session/token.js';
import { type RedisStore, redisStore } from '../../src/stores/redis/index.js';
import { DESTROY, INCREMENT, WRITE } from '../../src/stores/redis/scripts.js';
import { DelayLink } from '../../src/system/delay-link.js';
import {
  type RunningApp,
  type StartApp,
  startExpress,
  startFastify,
  startNode,
  startWeb,
} from '../adapters/apps.js';
import { describeRedis, RedisServer } from '../helpers/redis-server.js';
import { CookieJar, request } from '../helpers/sessions.js';
import { waitFor } from '../helpers/wait.js';
import { createWrite } from './conformance.js';

const COMMAND_TIMEOUT = 800;
/**
 * A request answers within one command deadline plus this: what it does before
 * the command that fails is fast, and the margin covers a loaded 2-core
 * machine. It is below COMMAND_TIMEOUT on purpose: a request that waits out two
 * deadlines fails the test.
 */
const MARGIN = 600;
const BOUND = COMMAND_TIMEOUT + MARGIN;

type RawClient = ReturnType<typeof createClient>;

interface Backend {
  store: RedisStore;
  /** What the store reported through onError (stalled connections among them). */
  errors: Error[];
  close(): Promise<void>;
}

/**
 * Who deals with a half-open connection: the store replaces a client it owns;
 * ioredis reconnects by itself with socketTimeout; nobody replaces an app's
 * node-redis client (node-redis does not notice), and the store reports it.
 */
type HalfOpen = 'replaced by the store' | 'reconnected by the client' | 'reported';

/** The clients the store runs on, each as an app would configure it. */
const clients: Record<string, { connect(url: string): Promise<Backend>; halfOpen: HalfOpen }> = {
  'the store-owned node-redis client (url)': {
    halfOpen: 'replaced by the store',
    async connect(url) {
      const errors: Error[] = [];
      const store = redisStore({ url, commandTimeout: COMMAND_TIMEOUT, onError: (e) => errors.push(e) });
      await store.ready();
      return { store, errors, close: () => store.close() };
    },
  },
  "the app's node-redis client": {
    halfOpen: 'reported',
    async connect(url) {
      const errors: Error[] = [];
      const client = createClient({ url });
      client.on('error', () => {});
      await client.connect();
      const store = redisStore({ client, commandTimeout: COMMAND_TIMEOUT, onError: (e) => errors.push(e) });
      return { store, errors, close: async () => client.destroy() };
    },
  },
  "the app's ioredis client": {
    // socketTimeout is ioredis's own half-open detection: it reconnects.
    halfOpen: 'reconnected by the client',
    async connect(url) {
      const errors: Error[] = [];
      const client = new Redis(url, { autoResendUnfulfilledCommands: false, socketTimeout: COMMAND_TIMEOUT });
      client.on('error', () => {});
      await waitFor(() => client.status === 'ready', { what: 'ioredis to connect' });
      const store = redisStore({ client, commandTimeout: COMMAND_TIMEOUT, onError: (e) => errors.push(e) });
      return { store, errors, close: async () => client.disconnect() };
    },
  },
};

interface Answer {
  status: number;
  json: Record<string, unknown> | null;
  setCookie: string | null;
}

/** One browser tab: a cookie, and exact books of what the server acknowledged and what it could not confirm. */
class User {
  cookie: string | null = null;
  readonly acked = new Set<string>();
  readonly unsure = new Set<string>();
  readonly counts: number[] = [];
  incrUnsure = 0;
  answered503 = 0;
  /** Its session is being logged out by another tab: it may end (or start anew) at any step now. */
  leaving = false;
  #i = 0;

  constructor(
    readonly app: RunningApp,
    readonly name: string,
  ) {}

  async call(method: string, path: string): Promise<Answer> {
    const started = performance.now();
    let res: Response;
    try {
      res = await fetch(`${this.app.url}${path}`, {
        method,
        redirect: 'manual',
        headers: this.cookie ? { cookie: this.cookie } : {},
        signal: AbortSignal.timeout(BOUND),
      });
    } catch (error) {
      const ms = Math.round(performance.now() - started);
      throw new Error(
        `${this.name}: ${method} ${path} got no answer within ${BOUND} ms (gave up after ${ms} ms)`,
        {
          cause: error,
        },
      );
    }
    const text = await res.text();
    const json = parseJson(text);
    const setCookie = res.headers.get('set-cookie');
    const allowed = path === '/login' ? [303, 503] : [200, 503];
    expect(allowed, `${this.name}: ${method} ${path} answered ${res.status}: ${text}`).toContain(res.status);
    if (res.status === 503) {
      this.answered503++;
      expect(res.headers.get('retry-after')).toBe('1');
      // JSON from the adapters and Fastify; Express's own error page shows the error.
      expect(text).toMatch(/UNPINNED_ERR_STORE_UNAVAILABLE|Session store unavailable/);
      // A 503 never hands out a new session nor clears the cookie.
      expect(setCookie).toBeNull();
    }
    return { status: res.status, json, setCookie };
  }

  async seed(): Promise<void> {
    const answer = await this.call('POST', '/set/seed');
    expect(answer.status).toBe(200);
    this.cookie = answer.setCookie!.split(';')[0]!;
    this.acked.add('seed');
  }

  /** The next step of a shopping-like journey: write a new key, count, read. */
  async step(): Promise<void> {
    const i = this.#i++;
    if (i % 3 === 0) {
      const key = `k${i}`;
      const answer = await this.call('POST', `/set/${key}`);
      (answer.status === 200 ? this.acked : this.unsure).add(key);
      // The session it had, never a fresh one (after a logout, a fresh one is right).
      if (!this.leaving) expect(answer.setCookie).toBeNull();
    } else if (i % 3 === 1) {
      const answer = await this.call('POST', '/incr');
      if (answer.status === 200) this.counts.push((answer.json as { n: number }).n);
      else this.incrUnsure++;
    } else {
      const before = [...this.acked];
      const answer = await this.call('GET', '/data');
      // Read your writes: "could not ask" is a 503, never an empty or stale session.
      if (answer.status === 200 && !this.leaving) {
        for (const key of before) expect(answer.json![key], `${this.name} ${key}`).toBe(true);
      }
    }
  }

  token(): string {
    return this.cookie!.slice(this.cookie!.indexOf('=') + 1);
  }
}

describeRedis('Redis faults through the fault link', () => {
  let redis: RedisServer;
  let raw: RawClient;
  const closing: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    redis = await RedisServer.start();
    raw = createClient({ url: redis.url });
    raw.on('error', () => {});
    await raw.connect();
  });
  afterEach(async () => {
    for (const close of closing.splice(0).reverse()) await close();
  });
  afterAll(async () => {
    await raw?.close().catch(() => {});
    await redis?.close();
  });

  async function system(client: string, start: StartApp = startExpress) {
    const link = await DelayLink.open(redis.port);
    closing.push(() => link.cut());
    const backend = await clients[client]!.connect(`redis://127.0.0.1:${link.port}`);
    closing.push(() => backend.close());
    const app = await start(createSessions({ store: backend.store }));
    closing.push(() => app.close());
    return { link, backend, app, store: backend.store };
  }

  /**
   * Users with a session each work until `fault` has run, and a few steps after.
   * The leaver works too, and logs out when the fault says so.
   */
  async function workThrough(app: RunningApp, fault: (crowd: Crowd) => Promise<void>, users = 4) {
    const crowd = new Crowd(app, users);
    await crowd.seed();
    let faultDone = false;
    const deadline = Date.now() + 30_000;
    const work = [...crowd.users, crowd.leaver].map(async (user) => {
      for (let after = 0, n = 0; after < 3 && n < 300; n++) {
        expect(Date.now(), 'the workload is bounded in time').toBeLessThan(deadline);
        await user.step();
        if (faultDone) after++;
      }
    });
    // A user that fails (an assertion, a hang) fails the test at once, not after the fault.
    const failed = new Promise<never>((_, reject) => {
      for (const w of work) w.catch(reject);
    });
    await Promise.race([fault(crowd), failed]);
    faultDone = true;
    await Promise.all(work);
    return crowd;
  }

  /** After the fault: each user's own cookie works again, with no restart; the leaver's logout lands. */
  async function recovered(crowd: Crowd): Promise<void> {
    for (const user of [...crowd.users, crowd.leaver]) {
      await waitFor(async () => (await user.call('GET', '/data')).status === 200, {
        timeoutMs: 20_000,
        what: `${user.name}'s session to answer again`,
      });
    }
    await waitFor(async () => (await crowd.logout()).status === 200, { what: 'the logout to land' });
  }

  /** Redis itself, read directly, against the books. */
  async function checkBooks(store: RedisStore, crowd: Crowd): Promise<void> {
    for (const user of crowd.users) {
      const stored = await raw.hGetAll(store.sessionKey(sessionIdOf(user.token())));
      for (const key of user.acked)
        expect(stored[key], `${user.name}: acknowledged ${key} is in Redis`).toBe('true');
      const n = Number(stored.n ?? 0);
      // Each acknowledged increment counted once: distinct values, none above the total.
      expect(new Set(user.counts).size).toBe(user.counts.length);
      expect(Math.max(0, ...user.counts)).toBeLessThanOrEqual(n);
      expect(n).toBeGreaterThanOrEqual(user.counts.length);
      expect(n).toBeLessThanOrEqual(user.counts.length + user.incrUnsure);
    }
    // Logout sticks: once acknowledged, no write of the leaver's other tab,
    // in flight or failed, brought the session back.
    expect(crowd.loggedOut).toBe(true);
    expect(await raw.exists(store.sessionKey(sessionIdOf(crowd.leaver.token())))).toBe(0);
    expect((await crowd.leaver.call('GET', '/data')).json).toEqual({});
  }

  const resetPlan = [WRITE.sha, INCREMENT.sha, DESTROY.sha, 'HGETALL', WRITE.sha, INCREMENT.sha];

  /** Resets the next command matching each entry of `plan`, the leaver logging out for the DESTROY one. */
  const resets =
    (link: DelayLink, how: 'resetDuringRequest' | 'resetBeforeReply') =>
    async (crowd: Crowd): Promise<void> => {
      for (const match of resetPlan) {
        let fired = false;
        const reset = link[how]({ match }).then(() => {
          fired = true;
        });
        // A logout that met the reconnect after the last reset was refused before it left: again.
        while (match === DESTROY.sha && !fired) await crowd.logout();
        await reset;
      }
    };

  /** Half-open until the users have met it `times` times (and the leaver tried to log out). */
  const halfOpen =
    (link: DelayLink, times = 8) =>
    async (crowd: Crowd): Promise<void> => {
      await link.partition();
      const before = crowd.answered503();
      expect((await crowd.logout()).status).toBe(503);
      await waitFor(() => crowd.answered503() >= before + times, { timeoutMs: 20_000, what: '503s' });
      link.heal();
    };

  for (const [client, { halfOpen: whoHeals }] of Object.entries(clients)) {
    describe(client, () => {
      for (const ms of [5, 50]) {
        it(`answers every request 200 with ${ms} ms of latency each way`, async () => {
          const { link, app, store } = await system(client);
          link.setDelay(ms);
          const crowd = await workThrough(app, async (c) => {
            expect((await c.logout()).status).toBe(200);
          });
          expect(crowd.answered503()).toBe(0);
          await checkBooks(store, crowd);
        });
      }

      it('answers 200 or 503 when connections are reset in the middle of a command, and loses nothing acknowledged', async () => {
        const { link, app, store } = await system(client);
        const crowd = await workThrough(app, resets(link, 'resetDuringRequest'));
        await recovered(crowd);
        await checkBooks(store, crowd);
      });

      it('answers 200 or 503 when a command ran but its reply was lost, and loses nothing acknowledged', async () => {
        const { link, app, store } = await system(client);
        const crowd = await workThrough(app, resets(link, 'resetBeforeReply'));
        await recovered(crowd);
        await checkBooks(store, crowd);
        expect(crowd.answered503()).toBeGreaterThan(0);
      });

      it(`answers within the deadline while the connection is half-open (${whoHeals})`, async () => {
        const { link, app, store, backend } = await system(client);
        const crowd = await workThrough(app, halfOpen(link));
        const stalled = backend.errors.filter((e) => /answered nothing/.test(e.message));
        if (whoHeals === 'reconnected by the client') {
          await recovered(crowd);
          await checkBooks(store, crowd);
          return;
        }
        // Found stalled by the deadline.
        expect(stalled.length).toBeGreaterThan(0);
        if (whoHeals === 'replaced by the store') {
          await recovered(crowd);
          // On a new connection: the dead one is never used again.
          expect(link.accepted).toBeGreaterThan(1);
          await checkBooks(store, crowd);
          return;
        }
        // Nobody replaced the app's dead connection: still 503, within the deadline, and it says why.
        expect(stalled[0]!.message).toMatch(/does not replace a client it was given/);
        for (const user of crowd.users) expect((await user.call('GET', '/data')).status).toBe(503);
      });
    });
  }

  for (const [name, start] of [
    ['fastify', startFastify],
    ['node:http', startNode],
    ['web (Request/Response)', startWeb],
  ] as const) {
    describe(`the ${name} adapter on the store-owned client`, () => {
      const client = 'the store-owned node-redis client (url)';
      it('answers 200 or 503 when a command ran but its reply was lost, and loses nothing acknowledged', async () => {
        const { link, app, store } = await system(client, start);
        const crowd = await workThrough(app, resets(link, 'resetBeforeReply'));
        await recovered(crowd);
        await checkBooks(store, crowd);
      });

      it('answers within the deadline while the connection is half-open, and recovers on a new one', async () => {
        const { link, app, store } = await system(client, start);
        const crowd = await workThrough(app, halfOpen(link));
        await recovered(crowd);
        await checkBooks(store, crowd);
      });
    });
  }

  describe('defects the faults found', () => {
    it('answers a login whose old session cannot be destroyed (half-open) within one deadline, not two', async () => {
      // An app's client, which nobody replaces: every command on it waits out its deadline.
      const { link, app } = await system("the app's node-redis client");
      const user = new User(app, 'ann');
      await user.seed();
      const cut = link.partition({ match: DESTROY.sha });
      // The new session is written, the old one's destroy is lost: the login fails,
      // and its cleanup of the new session must not hold the 503 for a second deadline.
      expect((await user.call('POST', '/login')).status).toBe(503);
      await cut;
    });

    it('drops the new session of a login whose create timed out: none is left that nobody holds', async () => {
      const link = await DelayLink.open(redis.port);
      closing.push(() => link.cut());
      const client = createClient({ url: `redis://127.0.0.1:${link.port}` });
      client.on('error', () => {});
      await client.connect();
      closing.push(async () => client.destroy());
      const prefix = 'orphans:';
      const store = redisStore({ client, prefix, commandTimeout: COMMAND_TIMEOUT, onError: () => {} });
      const sessions = createSessions({ store });
      // The cleanup is one attempt: the DESTROY script must not need its NOSCRIPT round trip here.
      await store.destroy(sessionIdOf(generateToken()));
      const jar = new CookieJar();
      await request(sessions, jar, (s) => s.set('cart', ['a']));
      const session = sessions.fromCookie(jar.header(), { secure: false });
      await session.get('cart');
      // Replies come late: the create runs in Redis, its answer misses the deadline.
      link.setDelay({ down: COMMAND_TIMEOUT * 2 });
      await expect(session.regenerate()).rejects.toMatchObject({ code: 'UNPINNED_ERR_STORE_UNAVAILABLE' });
      link.setDelay(0);
      await waitFor(async () => (await raw.keys(`${prefix}s:*`)).length === 1, {
        what: 'only the old session to be left',
      });
      // The old token still works (once the late replies are through), so the login can be retried.
      const cart = await waitFor(() => request(sessions, jar, (s) => s.get('cart')), {
        what: 'the old session',
      });
      expect(cart).toEqual(['a']);
    });

    it('ioredis: a command whose reply a reset lost fails at once, not at its 60 s deadline', {
      timeout: 20_000,
    }, async () => {
      const link = await DelayLink.open(redis.port);
      closing.push(() => link.cut());
      const client = new Redis(`redis://127.0.0.1:${link.port}`, { autoResendUnfulfilledCommands: false });
      client.on('error', () => {});
      closing.push(async () => client.disconnect());
      await waitFor(() => client.status === 'ready', { what: 'ioredis to connect' });
      const store = redisStore({ client, commandTimeout: 60_000, onError: () => {} });
      const id = sessionIdOf(generateToken());
      await store.write(id, createWrite(Date.now(), { n: 0 }));
      await store.increment(id, 'n', 0);
      const reset = link.resetBeforeReply({ match: INCREMENT.sha });
      const error = await store.increment(id, 'n', 1).catch((e: unknown) => e);
      await reset;
      expect(error).toMatchObject({ code: 'UNPINNED_ERR_STORE_UNAVAILABLE' });
      expect((error as Error).cause).toMatchObject({
        message: expect.stringMatching(/closed before the reply/),
      });
    });

    it('ioredis re-sends, by default, a command whose reply a reset lost: it runs twice (why the store refuses that)', async () => {
      const link = await DelayLink.open(redis.port);
      closing.push(() => link.cut());
      const client = new Redis(`redis://127.0.0.1:${link.port}`);
      client.on('error', () => {});
      closing.push(async () => client.disconnect());
      await client.set('resent', '0');
      const reset = link.resetBeforeReply({ match: 'incr' });
      // One INCR asked for, answered as if once, counted twice.
      expect(await client.incr('resent')).toBe(2);
      await reset;
    });
  });
});

/** The users of one scenario, and the leaver: a user with two tabs, one of which logs out. */
class Crowd {
  readonly users: User[];
  readonly leaver: User;
  readonly #leaverTab: User;
  loggedOut = false;

  constructor(app: RunningApp, users: number) {
    this.users = Array.from({ length: users }, (_, i) => new User(app, `user${i}`));
    this.leaver = new User(app, 'leaver');
    this.#leaverTab = new User(app, 'leaver (logout tab)');
  }

  async seed(): Promise<void> {
    for (const user of [...this.users, this.leaver]) await user.seed();
    this.#leaverTab.cookie = this.leaver.cookie;
  }

  async logout(): Promise<Answer> {
    this.leaver.leaving = true;
    const answer = await this.#leaverTab.call('POST', '/logout');
    if (answer.status === 200) {
      this.loggedOut = true;
      expect(answer.setCookie).toMatch(/Max-Age=0/);
    }
    // The other tab keeps its cookie: its requests after the logout must not bring the session back.
    this.#leaverTab.cookie = this.leaver.cookie;
    return answer;
  }

  answered503(): number {
    return [...this.users, this.leaver, this.#leaverTab].reduce((n, u) => n + u.answered503, 0);
  }
}

function parseJson(text: string): Record<string, unknown> | null {
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return null;
  }
}
