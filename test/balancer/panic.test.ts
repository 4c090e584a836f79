/**
 * Panic mode (below `panicThresholdPercent` available servers, picks ignore health checks) with
 * real servers: it still spreads load over servers a health check calls down, but never over
 * ports where nothing listens, and a retry in panic goes to a server that is available.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type Balancer, type BalancerOptions, createBalancer } from '../../src/balancer/index.js';
import { refusedPort, startBackend, type TestBackend } from '../helpers/backends.js';
import { send } from '../helpers/client.js';
import { waitFor } from '../helpers/wait.js';

let lb: Balancer | undefined;
const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  await lb?.close();
  lb = undefined;
  for (const fn of cleanup.splice(0)) await fn();
});

async function balance(options: BalancerOptions): Promise<string> {
  lb = createBalancer({
    servedByHeader: true,
    healthCheck: { path: '/health', intervalMs: 20, fall: 1, rise: 1 },
    ...options,
  });
  const { port } = await lb.listen(0, '127.0.0.1');
  return `http://127.0.0.1:${port}`;
}

async function backend(name: string): Promise<TestBackend> {
  const b = await startBackend(name);
  cleanup.push(() => b.stop());
  return b;
}

function retries(metrics: string): number {
  return Number(/^unpinned_lb_retries_total (\d+)$/m.exec(metrics)?.[1]);
}

const downCount = () => lb!.backends().filter((b) => !b.healthy).length;

describe('panic mode', () => {
  for (const strategy of ['round-robin', 'random', 'p2c', 'least-connections'] as const) {
    it(`${strategy}: two of three servers dead, every request lands on the live one, none retried`, async () => {
      const dead = [await refusedPort(), await refusedPort()];
      const live = await backend('live');
      const base = await balance({
        backends: [...dead.map((p) => `http://127.0.0.1:${p}`), live.url],
        strategy,
      });
      // Both dead servers failed their checks: 1 of 3 available, under the 50% threshold.
      await waitFor(() => downCount() === 2, { what: 'both dead servers down' });
      const before = retries(await lb!.metrics());
      for (let i = 0; i < 60; i++) {
        const reply = await send(`${base}/orders`, { method: 'POST', body: `{"n":${i}}` });
        expect(reply.status).toBe(200);
      }
      expect(live.received.filter((r) => r.method === 'POST')).toHaveLength(60);
      // Nothing was sent to a port where nothing listens, so nothing had to be retried.
      expect(retries(await lb!.metrics())).toBe(before);
    });
  }

  it('still spreads picks over servers that answer but fail their health check (Envoy semantics)', async () => {
    const sick = [await backend('sick-1'), await backend('sick-2')];
    for (const s of sick) s.healthy = false;
    const good = await backend('good');
    const base = await balance({ backends: [...sick.map((s) => s.url), good.url], strategy: 'round-robin' });
    await waitFor(() => downCount() === 2, { what: 'both sick servers down' });
    for (let i = 0; i < 30; i++) expect((await send(`${base}/x`)).status).toBe(200);
    for (const s of [...sick, good]) expect(s.received.length).toBe(10);
  });

  it('a retry in panic goes to an available server, not to another one that is down', async () => {
    const sick = [await backend('sick-1'), await backend('sick-2')];
    for (const s of sick) {
      s.healthy = false;
      s.handler = (_req, res) => void res.writeHead(503).end('busy');
    }
    const good = await backend('good');
    const base = await balance({
      backends: [...sick.map((s) => s.url), good.url],
      strategy: 'round-robin',
      // One retry only: in configuration order the next server after sick-1 is sick-2.
      retry: { idempotent: true, maxAttempts: 2 },
    });
    await waitFor(() => downCount() === 2, { what: 'both sick servers down' });
    for (let i = 0; i < 9; i++) expect((await send(`${base}/x`)).status).toBe(200);
    expect(good.received.length).toBe(9);
  });
});
