/**
 * The move off sticky sessions on real HAProxy, with the config `unpinned config haproxy
 * --migrate` writes: old express-session apps keeping sessions in their MemoryStore behind the
 * sticky variant, users logged in, then HAProxy restarted with the migrate config in front of
 * the old apps (in drain) and new ones (sharing one store). Nobody is logged out, new logins
 * land on the new servers only.
 */
import { execFile } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import express from 'express';
import session, { MemoryStore } from 'express-session';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { haproxyConfig } from '../../src/config/haproxy.js';
import { type ProxyConfigInput, resolveProxyConfig } from '../../src/config/options.js';
import { CookieJar } from '../../src/lab/cookie-jar.js';
import { freePort } from '../../src/system/redis-server.js';
import {
  checkHaproxy,
  describeWith,
  type RunningBalancer,
  startHaproxy,
  tempDir,
} from '../helpers/balancers.js';
import { waitFor } from '../helpers/wait.js';

const run = promisify(execFile);
const cli = join(import.meta.dirname, '..', '..', 'dist', 'src', 'cli', 'index.js');

interface App {
  name: string;
  url: string;
  close(): Promise<void>;
}

/** An express-session app as people write them; `store` shared or its own MemoryStore. */
async function startApp(name: string, store: session.Store): Promise<App> {
  const app = express();
  app.get('/healthz', (_req, res) => void res.send('ok'));
  app.use(
    session({
      secret: 'test secret',
      store,
      resave: false,
      saveUninitialized: false,
      // The cookie goes out on every response: HAProxy learns each session from it.
      rolling: true,
      cookie: { maxAge: 30 * 60_000 },
    }),
  );
  // express-session's session (this repo's own adapter types `req.session` otherwise).
  type LegacySession = session.Session & { user?: string; items?: number };
  const s = (req: express.Request) => (req as unknown as { session: LegacySession }).session;
  const me = (req: express.Request, res: express.Response) =>
    void res
      .set('x-served-by', name)
      .json({ server: name, user: s(req).user ?? null, items: s(req).items ?? 0 });
  app.post('/login/:user', (req, res, next) =>
    s(req).regenerate((err) => {
      if (err) return next(err);
      s(req).user = req.params.user;
      s(req).items = 0;
      me(req, res);
    }),
  );
  app.post('/add', (req, res) => {
    if (s(req).user) s(req).items = (s(req).items ?? 0) + 1;
    me(req, res);
  });
  app.get('/me', me);
  app.post('/logout', (req, res, next) =>
    s(req).destroy((err) => {
      if (err) return next(err);
      res.clearCookie('connect.sid');
      res.set('x-served-by', name).json({ server: name, user: null, items: 0 });
    }),
  );
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  return {
    name,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A browser: a cookie jar, and what it knows it did. */
class User {
  readonly jar = new CookieJar();
  items = 0;
  loggedOut = 0;
  server = '';
  constructor(
    readonly name: string,
    readonly base: () => string,
  ) {}

  async call(method: string, path: string): Promise<{ server: string; user: string | null; items: number }> {
    const cookie = this.jar.header();
    const res = await fetch(`${this.base()}${path}`, { method, headers: cookie ? { cookie } : {} });
    this.jar.store(res.headers.getSetCookie());
    expect(res.status).toBe(200);
    const body = (await res.json()) as { server: string; user: string | null; items: number };
    this.server = body.server;
    return body;
  }

  async login(): Promise<void> {
    await this.call('POST', `/login/${this.name}`);
    this.items = 0;
  }

  /** Adds an item and checks the server still knows this user and every item. */
  async add(): Promise<void> {
    const body = await this.call('POST', '/add');
    if (body.user !== this.name) {
      this.loggedOut++;
      await this.login();
      return;
    }
    this.items++;
    expect(body.items).toBe(this.items);
  }

  /** Forgets the balancer's pin: only the session cookie (and what HAProxy learned) is left. */
  dropPin(): void {
    this.jar.store(['SRV=; Max-Age=0']);
  }
}

describeWith('haproxy', 'HAProxy: the move off sticky sessions (haproxy installed)', () => {
  let legacy: App[] = [];
  let fresh: App[] = [];
  let haproxy: RunningBalancer | undefined;
  let port = 0;
  const base = () => `http://127.0.0.1:${port}`;

  const start = async (input: ProxyConfigInput) => {
    await haproxy?.stop();
    const dir = tempDir();
    const config = haproxyConfig(
      resolveProxyConfig({ listen: `127.0.0.1:${port}`, intervalMs: 200, rise: 1, fall: 2, ...input }),
      { adminSocket: `${dir}/admin.sock` },
    );
    haproxy = startHaproxy(config, dir);
    return config;
  };
  /** Up once every server that takes balanced requests has answered through it. */
  const ready = async (names: string[]) => {
    const seen = new Set<string>();
    await waitFor(
      async () => {
        const res = await fetch(`${base()}/me`);
        seen.add(String(res.headers.get('x-served-by')));
        return names.every((n) => seen.has(n));
      },
      { timeoutMs: 20_000, what: `haproxy to reach ${names.join(', ')}` },
    );
  };

  beforeAll(async () => {
    port = await freePort();
    legacy = await Promise.all(['old-1', 'old-2'].map((n) => startApp(n, new MemoryStore())));
    const shared = new MemoryStore(); // the new servers share their store: stateless
    fresh = await Promise.all(['new-1', 'new-2'].map((n) => startApp(n, shared)));
  });
  afterAll(async () => {
    await haproxy?.stop();
    await Promise.all([...legacy, ...fresh].map((a) => a.close()));
  });

  it('refuses a migration without old servers or without their session cookie', () => {
    const backends = ['http://10.0.1.5:3000'];
    const legacyBackends = ['http://10.0.0.5:3000'];
    expect(() =>
      resolveProxyConfig({ backends, migrate: { legacyBackends: [], legacyCookie: 'sid' } }),
    ).toThrow(/--legacy-backend/);
    expect(() => resolveProxyConfig({ backends, migrate: { legacyBackends, legacyCookie: '' } })).toThrow(
      /--legacy-cookie/,
    );
    expect(() => resolveProxyConfig({ backends, migrate: { legacyBackends, legacyCookie: 'a b' } })).toThrow(
      /--legacy-cookie/,
    );
  });

  it('writes a config haproxy -c accepts, from the CLI', async () => {
    const { stdout } = await run(process.execPath, [
      cli,
      'config',
      'haproxy',
      '--migrate',
      '--legacy-cookie',
      'connect.sid',
      '--legacy-backend',
      'http://10.0.0.5:3000',
      '--legacy-backend',
      'http://10.0.0.6:3000',
      '--backend',
      'http://10.0.1.5:3000',
      '--legacy-idle',
      '900',
    ]);
    expect(stdout).toContain('stick-table type string len 64 size 1m expire 900000ms');
    expect(stdout).toContain('stick store-response res.cook(connect.sid)');
    expect(stdout).toContain('stick match req.cook(connect.sid)');
    expect(stdout).toContain('server legacy1 10.0.0.5:3000 weight 0 cookie app1');
    expect(stdout).toContain('server app1 10.0.1.5:3000\n');
    expect(await checkHaproxy(stdout)).toMatch(/valid/i);
  });

  it('keeps every legacy session on its old server; new logins go to the new ones only', async () => {
    // The old way: sticky cookie over the in-memory apps.
    await start({ backends: legacy.map((a) => a.url), sticky: true });
    await ready(['old-1', 'old-2']);
    const users = Array.from({ length: 12 }, (_, i) => new User(`user-${i}`, base));
    for (const u of users) {
      await u.login();
      await u.add();
      await u.add();
    }
    const home = new Map(users.map((u) => [u, u.server]));
    expect(new Set(home.values())).toEqual(new Set(['old-1', 'old-2']));

    // The migration: HAProxy restarted with the migrate config.
    const config = await start({
      backends: fresh.map((a) => a.url),
      migrate: { legacyBackends: legacy.map((a) => a.url), legacyCookie: 'connect.sid', idleMs: 60_000 },
    });
    expect(await checkHaproxy(config)).toMatch(/valid/i);
    await ready(['new-1', 'new-2']);

    for (let round = 0; round < 3; round++) {
      for (const u of users) {
        await u.add();
        expect(u.server).toBe(home.get(u));
      }
    }
    // Half forget the pin: the stick table learned their sessions from the old servers' answers.
    for (const u of users.slice(0, 6)) u.dropPin();
    for (const u of users) {
      await u.add();
      expect(u.server).toBe(home.get(u));
    }
    // Newcomers never reach an old server, and stay logged in across the new ones.
    for (let i = 0; i < 8; i++) {
      const n = new User(`newcomer-${i}`, base);
      await n.login();
      expect(['new-1', 'new-2']).toContain(n.server);
      for (let k = 0; k < 3; k++) await n.add();
      expect(n.loggedOut).toBe(0);
      expect(['new-1', 'new-2']).toContain(n.server);
    }
    // A logout on an old server frees it: the next login is on a new server, and stays there.
    for (const u of users.slice(3, 9)) {
      await u.call('POST', '/logout');
      expect(u.server).toBe(home.get(u));
      await u.login();
      expect(['new-1', 'new-2']).toContain(u.server);
      for (let k = 0; k < 3; k++) {
        await u.add();
        expect(['new-1', 'new-2']).toContain(u.server);
      }
    }
    expect(users.map((u) => u.loggedOut)).toEqual(users.map(() => 0));
  });
});
