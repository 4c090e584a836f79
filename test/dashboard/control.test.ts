/**
 * The dashboard's data and actions over the control API, on a real system: snapshots on
 * `GET /events`, bounded synthetic traffic, the live session count from the store, sessions lost
 * under the sticky baseline, add and remove, and the guards that keep other sites out.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient } from 'redis';
import { afterEach, expect, it } from 'vitest';
import { dashboard, type Snapshot } from '../../src/dashboard/index.js';
import type { TrafficStats } from '../../src/dashboard/traffic.js';
import { startControl } from '../../src/system/control.js';
import { System } from '../../src/system/supervisor.js';
import { describeRedis, RedisServer } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/wait.js';

let system: System | null = null;
let control: Server | null = null;
afterEach(async () => {
  control?.closeAllConnections();
  await new Promise((resolve) => (control ? control.close(resolve) : resolve(null)));
  control = null;
  await system?.stop();
  system = null;
});

async function start(options: ConstructorParameters<typeof System>[0] = {}) {
  system = new System({ servers: 3, port: 0, ...options });
  await system.start();
  const c = await startControl(system, 0, dashboard(system));
  control = c.server;
  const post = async (path: string, body: unknown = {}) => {
    const res = await fetch(`${c.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const traffic = async () => (await (await fetch(`${c.url}/traffic`)).json()) as TrafficStats;
  return { url: c.url, post, traffic };
}

/** Reads `GET /events` until `until` holds for a snapshot; returns the history and that snapshot. */
async function watch(
  url: string,
  until: (s: Snapshot) => boolean,
): Promise<{ history: Snapshot[]; last: Snapshot }> {
  const abort = new AbortController();
  const res = await fetch(`${url}/events`, {
    signal: AbortSignal.any([abort.signal, AbortSignal.timeout(30_000)]),
  });
  expect(res.headers.get('content-type')).toBe('text/event-stream');
  const decoder = new TextDecoder();
  let text = '';
  let history: Snapshot[] | null = null;
  try {
    for await (const chunk of res.body!) {
      text += decoder.decode(chunk, { stream: true });
      let end = text.indexOf('\n\n');
      while (end >= 0) {
        const [event, data] = text.slice(0, end).split('\n') as [string, string];
        text = text.slice(end + 2);
        end = text.indexOf('\n\n');
        const value = JSON.parse(data.slice('data: '.length));
        if (event === 'event: history') history = value as Snapshot[];
        else if (until(value as Snapshot)) return { history: history!, last: value as Snapshot };
      }
    }
  } finally {
    abort.abort();
  }
  throw new Error('the event stream ended');
}

describeRedis('dashboard over the control API', () => {
  it('streams snapshots, runs bounded traffic that stops by itself, and counts live sessions in the store', async () => {
    const c = await start();
    const started = await c.post('/traffic', { users: 6, rate: 60, maxRequests: 90, seconds: 60 });
    expect(started).toMatchObject({ status: 200, body: { running: true, users: 6 } });
    // The request budget ends it, not the clock and not the test.
    const done = await waitFor(async () => ((t) => (t.running ? null : t))(await c.traffic()), {
      timeoutMs: 30_000,
      what: 'the traffic to stop by itself',
    });
    expect(done).toMatchObject({ reason: 'requests', failed: 0, sessionsLost: 0, itemsLost: 0 });
    // The budget is checked and spent in one synchronous step: never a request more.
    expect(done.requests).toBe(90);

    const { history, last } = await watch(
      c.url,
      (s) => s.traffic?.running === false && s.store.sessions === 6,
    );
    expect(history.length).toBeGreaterThan(0);
    expect(last.store).toMatchObject({ kind: 'redis', up: true, exact: true, sessions: 6 });
    // Every session has a user index beside it (twice the sessions), and the live shop keeps each
    // user's realtime channel (its log and meta) in the same Redis.
    const redis = createClient({ url: system!.storeUrl! });
    await redis.connect();
    const channelKeys = await redis.keys('unpinned:rt:*');
    await redis.close();
    expect(last.store.keys).toBe(12 + channelKeys.length);
    expect(last.servers.map((s) => s.name)).toEqual(['app-1', 'app-2', 'app-3']);
    expect(last.servers.reduce((n, s) => n + s.requests, 0)).toBeGreaterThanOrEqual(90);
    // Round-robin spread the load, and every server's latencies were measured.
    const seen = history.concat(last).flatMap((s) => s.servers);
    for (const name of ['app-1', 'app-2', 'app-3']) {
      expect(seen.some((s) => s.name === name && s.rps > 0)).toBe(true);
      expect(seen.some((s) => s.name === name && s.p50 !== null)).toBe(true);
    }
  });

  it('counts live subscribers per server: the event streams of open shop pages, through the balancer', async () => {
    const c = await start();
    const base = system!.status().balancer.url;
    const streams: AbortController[] = [];
    try {
      // Three users with the shop open: each page subscribes to its session's channel.
      for (const user of ['ann', 'bob', 'cy']) {
        const login = await fetch(`${base}/api/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ user }),
        });
        const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
        const page = await (await fetch(`${base}/`, { headers: { cookie } })).text();
        const session = /data-session="([^"]+)"/.exec(page)![1]!;
        const abort = new AbortController();
        streams.push(abort);
        const stream = await fetch(`${base}/live?channel=session:${session}`, {
          headers: { accept: 'text/event-stream', cookie },
          signal: abort.signal,
        });
        expect(stream.status).toBe(200);
      }
      const { last } = await watch(c.url, (s) => s.total.live === 3);
      expect(last.servers.reduce((n, s) => n + s.live, 0)).toBe(3);
      expect(system!.status().servers.reduce((n, s) => n + s.live, 0)).toBe(3);
      // The balancer's own metrics say the same, per server.
      const metrics = await system!.balancer.metrics();
      const gauges = [...metrics.matchAll(/^unpinned_lb_long_lived_connections\{server="[^"]+"\} (\d+)$/gm)];
      expect(gauges.reduce((n, m) => n + Number(m[1]), 0)).toBe(3);
      // A closed tab is no longer counted.
      streams.pop()!.abort();
      await watch(c.url, (s) => s.total.live === 2);
    } finally {
      for (const abort of streams) abort.abort();
    }
  });

  it('under --sticky, shows sessions lost when the server holding them crashes', async () => {
    const c = await start({ sticky: true });
    await c.post('/traffic', { users: 12, rate: 60, maxRequests: 3000, seconds: 60 });
    // Every server holds some of the 12 users' sessions once all have logged in.
    await watch(c.url, (s) => s.servers.every((v) => v.requests >= 8));
    expect((await c.post('/kill', { server: 'app-2' })).status).toBe(200);
    const { last } = await watch(c.url, (s) => (s.traffic?.sessionsLost ?? 0) > 0);
    expect(last.sticky).toBe(true);
    expect(last.store).toMatchObject({ kind: 'memory', sessions: null });
    expect(last.servers.find((s) => s.name === 'app-2')!.state).toBe('down');
    const stopped = await c.post('/traffic/stop');
    expect(stopped.body).toMatchObject({ running: false, reason: 'stopped' });
  });

  it('adds a server and removes a named one', async () => {
    const c = await start({ servers: 2 });
    const added = await c.post('/add');
    expect((added.body.servers as { name: string }[]).map((s) => s.name)).toEqual([
      'app-1',
      'app-2',
      'app-3',
    ]);
    const removed = await c.post('/remove', { server: 'app-1' });
    expect((removed.body.servers as { name: string }[]).map((s) => s.name)).toEqual(['app-2', 'app-3']);
    const unknown = await c.post('/remove', { server: 'app-9' });
    expect(unknown).toMatchObject({ status: 404, body: { error: { code: 'UNPINNED_ERR_UNKNOWN_SERVER' } } });
    // The time limit ends a traffic whose request budget is far away.
    await c.post('/traffic', { users: 2, rate: 4, seconds: 1, maxRequests: 100_000 });
    const timed = await waitFor(async () => ((t) => (t.running ? null : t))(await c.traffic()), {
      what: 'the traffic to reach its time limit',
    });
    expect(timed).toMatchObject({ reason: 'time', failed: 0 });
    expect(timed.requests).toBeLessThan(100);
    const bad = await c.post('/traffic', { users: 0 });
    expect(bad).toMatchObject({ status: 400, body: { error: { code: 'UNPINNED_ERR_INVALID_OPTION' } } });
  });

  it('refuses what another site could send: a foreign Host, a form post, a cross-origin command', async () => {
    const c = await start({ servers: 1 });
    // Loopback only: no other machine can reach it at all.
    expect((control!.address() as AddressInfo).address).toBe('127.0.0.1');
    const { request } = await import('node:http');
    const foreign = await new Promise<number>((resolve, reject) => {
      const req = request(`${c.url}/status`, { headers: { host: 'attacker.example:80' } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.end();
    });
    expect(foreign).toBe(421);
    const form = await fetch(`${c.url}/kill`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'server=app-1',
    });
    expect(form.status).toBe(415);
    // JSON from a page on another origin (a browser would preflight it; this guard does not rely on that).
    const pageHeaders: Record<string, string>[] = [
      { origin: 'http://evil.example' },
      { 'sec-fetch-site': 'same-site' },
    ];
    for (const headers of pageHeaders) {
      const res = await fetch(`${c.url}/kill`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ server: 'app-1' }),
      });
      expect(res.status).toBe(403);
      expect(await res.json()).toMatchObject({ error: { code: 'UNPINNED_ERR_FORBIDDEN' } });
    }
    expect(system!.status().servers[0]!.state).toBe('up');
    // The dashboard's own page passes: same origin.
    const own = await fetch(`${c.url}/traffic/stop`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: c.url, 'sec-fetch-site': 'same-origin' },
      body: '{}',
    });
    expect(own.status).toBe(200);
    const page = await fetch(`${c.url}/`);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
  });

  it('shows the store without its password: in status, on the control API and on the page', async () => {
    const secret = 's3cret-do-not-show';
    const redis = await RedisServer.start({ extraArgs: ['--requirepass', secret] });
    try {
      const c = await start({ servers: 1, redisUrl: `redis://default:${secret}@127.0.0.1:${redis.port}` });
      expect(system!.status().store.url).toBe(`redis://default:***@127.0.0.1:${redis.port}`);
      expect(await (await fetch(`${c.url}/status`)).text()).not.toContain(secret);
      // The page's probe still gets into the store (it uses the real address, in-process).
      const { history, last } = await watch(c.url, (s) => s.store.up === true);
      expect(last.store.url).toBe(`redis://default:***@127.0.0.1:${redis.port}`);
      expect(JSON.stringify([history, last])).not.toContain(secret);
    } finally {
      await system?.stop();
      system = null;
      await redis.close();
    }
  });
});
