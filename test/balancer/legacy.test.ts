/**
 * Legacy affinity (src/balancer/legacy.ts), with real servers that keep sessions the old way: an
 * old fleet behind the sticky-cookie strategy, then a stateless server added and the old ones
 * marked retiring. Time moves only by the test's clock, so the idle window and the cap are
 * exact, never slept on.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { type Balancer, createBalancer } from '../../src/balancer/index.js';
import { parseSetCookie } from '../../src/balancer/legacy.js';
import { startBackends, type TestBackend } from '../helpers/backends.js';
import { type Reply, send } from '../helpers/client.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { waitFor } from '../helpers/wait.js';

const idleMs = 60_000;
let servers: TestBackend[] = [];
let lb: Balancer | undefined;

afterEach(async () => {
  await lb?.close();
  lb = undefined;
  await Promise.all(servers.map((s) => s.stop()));
  servers = [];
});

/** Old-app behaviour: /login issues a `connect.sid`, /logout clears it, /relogin regenerates it. */
function keepSessions(server: TestBackend): void {
  server.handler = (req, res) => {
    const headers: Record<string, string | string[]> = { 'x-backend': server.name };
    if (req.url === '/login' || req.url === '/relogin')
      headers['set-cookie'] = `connect.sid=s%3A${randomBytes(9).toString('base64url')}; Path=/; HttpOnly`;
    if (req.url === '/logout')
      headers['set-cookie'] = 'connect.sid=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT';
    res.writeHead(200, headers).end(server.name);
  };
}

/** A client with a cookie jar of its own. */
class Client {
  jar = new Map<string, string>();
  constructor(readonly base: string) {}
  async get(path: string): Promise<Reply> {
    const cookie = [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const r = await send(`${this.base}${path}`, { headers: cookie ? { cookie } : {} });
    const raw = r.headers['set-cookie'];
    for (const line of raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]) {
      const eq = line.indexOf('=');
      const name = line.slice(0, eq);
      const parsed = parseSetCookie(line, name)!;
      if (parsed.cleared) this.jar.delete(name);
      else this.jar.set(name, parsed.value);
    }
    return r;
  }
  async server(path = '/'): Promise<string> {
    return String((await this.get(path)).headers['x-backend']);
  }
}

async function oldFleet(legacy: Parameters<typeof createBalancer>[0]['legacy'] = {}) {
  const clock = new ManualClock();
  servers = await startBackends(['old-a', 'old-b', 'new-1']);
  for (const s of servers) keepSessions(s);
  const [a, b, fresh] = servers as [TestBackend, TestBackend, TestBackend];
  lb = createBalancer({
    backends: [a, b].map((s) => ({ url: s.url, id: s.name })),
    strategy: 'sticky-cookie',
    clock,
    legacy: { cookie: 'connect.sid', idleMs, ...legacy },
  });
  const base = `http://127.0.0.1:${(await lb.listen(0, '127.0.0.1')).port}`;
  // Users log in the old way: pinned by the balancer, session in the old server's memory.
  const users = Array.from({ length: 6 }, () => new Client(base));
  for (const u of users) await u.get('/login');
  const home = new Map<Client, string>();
  for (const u of users) home.set(u, await u.server());
  // The migration: a stateless server joins, the old ones retire, the pool is balanced.
  lb.addBackend({ url: fresh.url, id: fresh.name });
  const retired = [lb.retire('old-a'), lb.retire('old-b')];
  lb.setStrategy('round-robin');
  return { clock, base, users, home, retired, balancer: lb };
}

const sessionsOf = (balancer: Balancer, id: string) =>
  balancer.legacy().retiring.find((r) => r.id === id)?.sessions;

describe('legacy affinity', () => {
  it('keeps sessions on their retiring server; new and unknown sessions never reach one', async () => {
    const { base, users, home, balancer } = await oldFleet();
    expect(new Set(home.values())).toEqual(new Set(['old-a', 'old-b']));
    for (let round = 0; round < 4; round++) for (const u of users) expect(await u.server()).toBe(home.get(u));
    const perServer = (id: string) => [...home.values()].filter((h) => h === id).length;
    expect(sessionsOf(balancer, 'old-a')).toBe(perServer('old-a'));
    expect(sessionsOf(balancer, 'old-b')).toBe(perServer('old-b'));
    // The pin was read once; the learned session alone binds from now on.
    const u0 = users[0]!;
    u0.jar.delete('SRV');
    expect(await u0.server()).toBe(home.get(u0));
    // A session the old server re-issues (regenerate on login) is learned from its Set-Cookie.
    const before = u0.jar.get('connect.sid');
    expect(await u0.server('/relogin')).toBe(home.get(u0));
    expect(u0.jar.get('connect.sid')).not.toBe(before);
    expect(await u0.server()).toBe(home.get(u0));
    expect(sessionsOf(balancer, home.get(u0)!)).toBe(perServer(home.get(u0)!));

    // Newcomers, unknown sessions, and pins without a session all go to the pool.
    for (let i = 0; i < 6; i++) {
      const newcomer = new Client(base);
      expect(await newcomer.server('/login')).toBe('new-1');
      expect(await newcomer.server()).toBe('new-1');
      const forged = new Client(base);
      forged.jar.set('connect.sid', `s%3A${randomBytes(9).toString('base64url')}`);
      expect(await forged.server()).toBe('new-1');
    }
    const pinOnly = new Client(base);
    pinOnly.jar.set('SRV', users[1]!.jar.get('SRV')!);
    expect(await pinOnly.server('/login')).toBe('new-1');
    // ... and that stale pin is cleared, so the new session is never taken for a legacy one.
    expect(pinOnly.jar.has('SRV')).toBe(false);
    expect(await pinOnly.server()).toBe('new-1');

    const text = await balancer.metrics();
    expect(text).toContain(`unpinned_lb_legacy_sessions{server="old-a"} ${perServer('old-a')}`);
    expect(text).toContain('unpinned_lb_server_up{server="old-a",state="retiring"} 0');
    expect(balancer.backends().find((b) => b.id === 'old-a')).toMatchObject({
      state: 'retiring',
      retiring: true,
      legacySessions: perServer('old-a'),
    });
  });

  it('removes a retiring server once its last session logged out and one idle window passed', async () => {
    const { clock, users, home, retired, balancer } = await oldFleet();
    for (const u of users) await u.server(); // every session seen (pins read)
    const onA = users.filter((u) => home.get(u) === 'old-a');
    for (const u of onA) {
      expect(await u.server('/logout')).toBe('old-a');
      // Logged out: the user no longer holds the old server.
      expect(await u.server('/login')).toBe('new-1');
    }
    expect(sessionsOf(balancer, 'old-a')).toBe(0);
    expect(balancer.backends().some((b) => b.id === 'old-a')).toBe(true); // not before the window
    // old-b's users stay active; old-a's window ends.
    clock.tick(idleMs / 2);
    for (const u of users.filter((x) => home.get(x) === 'old-b')) expect(await u.server()).toBe('old-b');
    clock.tick(idleMs / 2 + 1_000);
    expect(await retired[0]).toEqual({ id: 'old-a', reason: 'sessions-ended', forcedOut: 0 });
    await waitFor(() => !balancer.backends().some((b) => b.id === 'old-a'), { what: 'old-a removed' });
    expect(balancer.backends().find((b) => b.id === 'old-b')?.state).toBe('retiring');
    // Sessions not seen for the idle window have ended in the old app too: old-b goes as well.
    clock.tick(idleMs + 1_000);
    expect(await retired[1]).toEqual({ id: 'old-b', reason: 'sessions-ended', forcedOut: 0 });
    await waitFor(() => balancer.backends().length === 1, { what: 'old-b removed' });
  });

  it('retires at the cap and reports the sessions still bound as forced out', async () => {
    const { clock, users, home, retired, balancer } = await oldFleet({ retireAfterMs: 90_000 });
    const onA = users.filter((u) => home.get(u) === 'old-a').length;
    const onB = users.length - onA;
    // Users keep coming back, so their sessions never idle out; the cap ends it.
    for (let t = 0; t < 90_000; t += 20_000) {
      for (const u of users) expect(await u.server()).toBe(home.get(u));
      clock.tick(20_000);
    }
    expect(await retired[0]).toEqual({ id: 'old-a', reason: 'cap', forcedOut: onA });
    expect(await retired[1]).toEqual({ id: 'old-b', reason: 'cap', forcedOut: onB });
    await waitFor(() => balancer.backends().length === 1, { what: 'old servers removed' });
    const text = await balancer.metrics();
    expect(text).toContain(`unpinned_lb_legacy_sessions_forced_out_total{server="old-a"} ${onA}`);
    expect(text).toContain(`unpinned_lb_legacy_sessions_forced_out_total{server="old-b"} ${onB}`);
    for (const u of users) expect(await u.server()).toBe('new-1');
  });

  it('bounds the learned table: the least recently seen entry is evicted, idle entries expire', async () => {
    const { clock, users, home, balancer } = await oldFleet({ maxEntries: 4 });
    for (const u of users) await u.server();
    const table = balancer.legacy();
    expect(table.entries).toBe(4);
    expect(table.evicted).toBe(2);
    // The two seen first were evicted: their pins still name the server, so they are learned
    // again (evicting the next least recent ones) as long as the pin is there...
    expect(await users[0]!.server()).toBe(home.get(users[0]!));
    // ... but without it, an evicted session is unknown and goes to the pool.
    const evicted = users[2]!; // the least recently seen now
    evicted.jar.delete('SRV');
    expect(await evicted.server()).toBe('new-1');
    expect(balancer.legacy().entries).toBe(4);
    // Idle entries expire: after one idle window nobody is bound any more.
    clock.tick(idleMs + 1_000);
    expect(balancer.legacy().entries).toBe(0);
    await waitFor(() => balancer.backends().length === 1, { what: 'old servers removed' });
  });

  it('is reachable through the admin API', async () => {
    servers = await startBackends(['old-a', 'new-1']);
    for (const s of servers) keepSessions(s);
    lb = createBalancer({
      backends: servers.map((s) => ({ url: s.url, id: s.name })),
      legacy: { cookie: 'connect.sid', idleMs },
      admin: { port: 0 },
    });
    await lb.listen(0, '127.0.0.1');
    const admin = `http://127.0.0.1:${lb.adminAddress()!.port}`;
    const json = { 'content-type': 'application/json' };
    const r = await send(`${admin}/servers/old-a/retire`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ retireAfterMs: 120_000 }),
    });
    expect(r.status).toBe(200);
    expect(r.json()).toMatchObject({ id: 'old-a', state: 'retiring', retiring: true, legacySessions: 0 });
    const legacy = (await send(`${admin}/legacy`)).json<{ cookie: string; retiring: unknown[] }>();
    expect(legacy.cookie).toBe('connect.sid');
    expect(legacy.retiring).toEqual([
      expect.objectContaining({ id: 'old-a', sessions: 0, capInMs: expect.any(Number) }),
    ]);
  });
});

describe('parseSetCookie', () => {
  it('tells a logout (Max-Age=0, Expires in the past, empty value) from a session', () => {
    expect(parseSetCookie('connect.sid=abc; Path=/; HttpOnly', 'connect.sid')).toEqual({
      value: 'abc',
      cleared: false,
    });
    expect(parseSetCookie('connect.sid=abc; Max-Age=0', 'connect.sid')?.cleared).toBe(true);
    expect(
      parseSetCookie('connect.sid=abc; Expires=Thu, 01 Jan 1970 00:00:00 GMT', 'connect.sid')?.cleared,
    ).toBe(true);
    expect(
      parseSetCookie('connect.sid=abc; Expires=Fri, 01 Jan 2100 00:00:00 GMT', 'connect.sid')?.cleared,
    ).toBe(false);
    expect(parseSetCookie('connect.sid=; Path=/', 'connect.sid')?.cleared).toBe(true);
    expect(parseSetCookie('other=abc', 'connect.sid')).toBeUndefined();
  });
});
