/**
 * Active health checks (interval, rise/fall) on an injected clock, and passive ejection with its
 * cooldown and guard, against real servers.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Balancer,
  type BalancerOptions,
  createBalancer,
  type StateEvent,
} from '../../src/balancer/index.js';
import { startBackends, type TestBackend } from '../helpers/backends.js';
import { send } from '../helpers/client.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { waitFor } from '../helpers/wait-for.js';

let lb: Balancer | undefined;
let servers: TestBackend[] = [];
afterEach(async () => {
  await lb?.close();
  await Promise.all(servers.map((s) => s.stop()));
  lb = undefined;
  servers = [];
});

async function setup(options: Partial<BalancerOptions>): Promise<{ base: string; events: StateEvent[] }> {
  servers = await startBackends(['a', 'b']);
  lb = createBalancer({
    backends: servers.map((s) => ({ url: s.url, id: s.name })),
    strategy: 'round-robin',
    ...options,
  });
  const events: StateEvent[] = [];
  lb.on('state', (e: StateEvent) => events.push(e));
  const { port } = await lb.listen(0, '127.0.0.1');
  return { base: `http://127.0.0.1:${port}`, events };
}

async function servedBy(base: string, n: number): Promise<string> {
  let out = '';
  for (let i = 0; i < n; i++) out += (await send(`${base}/`)).headers['x-backend'];
  return out;
}

describe('active health checks', () => {
  it('take a server down after `fall` failures and back up after `rise` passes, on the interval', async () => {
    const clock = new ManualClock();
    const { base, events } = await setup({
      healthCheck: { path: '/health', intervalMs: 1000, rise: 2, fall: 3 },
      clock,
    });
    const [a, b] = servers as [TestBackend, TestBackend];
    // One check per server at start, then the next one is scheduled on the (manual) clock.
    await waitFor(() => a.healthChecks === 1 && b.healthChecks === 1 && clock.pendingTimers === 2);
    const tick = async (n: number) => {
      clock.tick(1000);
      await waitFor(() => b.healthChecks === n && clock.pendingTimers === 2, { message: `check #${n}` });
    };
    b.healthy = false;
    await tick(2);
    await tick(3);
    expect(lb!.backends()[1]!.state).toBe('up'); // two failures: not yet (fall 3)
    await tick(4);
    expect(lb!.backends()[1]!.state).toBe('down');
    expect(await servedBy(base, 4)).toBe('aaaa');
    b.healthy = true;
    await tick(5);
    expect(lb!.backends()[1]!.state).toBe('down'); // one pass: not yet (rise 2)
    await tick(6);
    expect(lb!.backends()[1]!.state).toBe('up');
    expect((await servedBy(base, 4)).split('').sort().join('')).toBe('aabb');
    expect(events.filter((e) => e.id === 'b' && e.reason.startsWith('health'))).toEqual([
      { id: 'b', url: b.url, state: 'down', reason: 'health-check-down' },
      { id: 'b', url: b.url, state: 'up', reason: 'health-check-up' },
    ]);
  });

  it('checkHealth() runs a round now; a crashed server fails its check', async () => {
    const { base } = await setup({ healthCheck: { path: '/health', intervalMs: 60_000, rise: 1, fall: 1 } });
    await servers[1]!.stop();
    await lb!.checkHealth();
    expect(lb!.backends().map((s) => s.state)).toEqual(['up', 'down']);
    expect(await servedBy(base, 3)).toBe('aaa');
  });
});

describe('passive ejection', () => {
  it('ejects a server after consecutive 5xx-gateway failures, and brings it back after the cooldown', async () => {
    const clock = new ManualClock();
    const { base, events } = await setup({ passive: { consecutiveFailures: 3, cooldownMs: 10_000 }, clock });
    const b = servers[1]!;
    b.handler = (_req, res) => void res.writeHead(503, { 'x-backend': 'b' }).end();
    expect(await servedBy(base, 6)).toBe('ababab'); // b's 503s are relayed (no idempotent retry)
    expect(lb!.backends()[1]!.state).toBe('ejected');
    expect(await servedBy(base, 3)).toBe('aaa');
    b.handler = undefined;
    clock.tick(9_999);
    expect(await servedBy(base, 2)).toBe('aa');
    clock.tick(1);
    expect((await servedBy(base, 2)).split('').sort().join('')).toBe('ab');
    expect(events.map((e) => `${e.id}:${e.reason}`)).toContain('b:ejected');
    expect(await lb!.metrics()).toMatch(/^unpinned_lb_ejections_total\{server="b"\} 1$/m);
  });

  it('a partial outage cannot eject everything: with both failing, one server stays in', async () => {
    const { base } = await setup({ passive: { consecutiveFailures: 2, cooldownMs: 60_000 } });
    for (const s of servers)
      s.handler = (_req, res) => void res.writeHead(502, { 'x-backend': s.name }).end();
    const replies = [];
    for (let i = 0; i < 12; i++) replies.push(await send(`${base}/`));
    // Every request still reached a server (502 relayed from it), none was refused with 503.
    expect(replies.every((r) => r.status === 502 && r.headers['x-unpinned-error'] === undefined)).toBe(true);
    const states = lb!.backends().map((s) => s.state);
    expect(states.filter((s) => s === 'ejected')).toHaveLength(1);
    expect(states.filter((s) => s === 'up')).toHaveLength(1);
  });
});
