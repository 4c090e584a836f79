/**
 * Retries against real servers: a refused connection is retried elsewhere whatever the method;
 * a request that reached a server that then died is never replayed unless idempotent retries
 * are configured.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type Balancer, type BalancerOptions, createBalancer } from '../../src/balancer/index.js';
import { refusedPort, startBackend, type TestBackend } from '../helpers/backends.js';
import { type ChildServer, startCrashingServer } from '../helpers/child-server.js';
import { send } from '../helpers/client.js';

let lb: Balancer | undefined;
const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  await lb?.close();
  lb = undefined;
  for (const fn of cleanup.splice(0)) await fn();
});

async function balance(options: BalancerOptions): Promise<string> {
  lb = createBalancer({ servedByHeader: true, ...options });
  const { port } = await lb.listen(0, '127.0.0.1');
  return `http://127.0.0.1:${port}`;
}

async function backend(name: string): Promise<TestBackend> {
  const b = await startBackend(name);
  cleanup.push(() => b.stop());
  return b;
}

async function crashing(): Promise<ChildServer> {
  const c = await startCrashingServer();
  cleanup.push(() => c.kill());
  return c;
}

function retries(metrics: string): number {
  return Number(/^unpinned_lb_retries_total (\d+)$/m.exec(metrics)?.[1]);
}

describe('retries', () => {
  it('a POST to a server that refuses connections lands on another server exactly once', async () => {
    const dead = await refusedPort();
    const a = await backend('a');
    const base = await balance({ backends: [`http://127.0.0.1:${dead}`, a.url], strategy: 'round-robin' });
    const reply = await send(`${base}/orders`, { method: 'POST', body: '{"item":1}' });
    expect(reply.status).toBe(200);
    expect(reply.headers['x-served-by']).toBe(a.url.slice(7));
    expect(a.received.filter((r) => r.method === 'POST')).toEqual([
      expect.objectContaining({ url: '/orders', body: '{"item":1}' }),
    ]);
    expect(retries(await lb!.metrics())).toBe(1);
  });

  it('a POST whose server dies mid-response is not replayed: the client sees the failure', async () => {
    const crashy = await crashing();
    const a = await backend('a');
    const base = await balance({ backends: [crashy.url, a.url], strategy: 'round-robin' });
    // Headers were already relayed when the server died, so the balancer cuts the client
    // connection (a truncated body is the only honest signal left).
    await expect(send(`${base}/crash-mid-response`, { method: 'POST', body: 'pay' })).rejects.toThrow();
    await crashy.exited;
    expect(crashy.received).toEqual(['POST /crash-mid-response']);
    expect(a.received).toEqual([]);
  });

  it('a POST whose server dies before answering gets 502 and is not replayed', async () => {
    const crashy = await crashing();
    const a = await backend('a');
    const base = await balance({ backends: [crashy.url, a.url], strategy: 'round-robin' });
    const reply = await send(`${base}/crash-before-response`, { method: 'POST', body: 'pay' });
    expect(reply.status).toBe(502);
    expect(reply.headers['x-unpinned-error']).toBe('UNPINNED_ERR_LB_BACKEND_FAILED');
    expect(reply.text).toContain('UNPINNED_ERR_LB_BACKEND_FAILED');
    await crashy.exited;
    expect(crashy.received).toEqual(['POST /crash-before-response']);
    expect(a.received).toEqual([]);
    expect(retries(await lb!.metrics())).toBe(0);
  });

  it('an idempotent GET that reached a dying server is retried only when configured', async () => {
    for (const idempotent of [false, true]) {
      const crashy = await crashing();
      const a = await backend('a');
      const base = await balance({
        backends: [crashy.url, a.url],
        strategy: 'round-robin',
        retry: { idempotent },
      });
      const reply = await send(`${base}/crash-before-response`, { method: 'GET' });
      expect(reply.status).toBe(idempotent ? 200 : 502);
      expect(a.received.length).toBe(idempotent ? 1 : 0);
      await lb!.close();
      lb = undefined;
    }
  });

  it('idempotent retries on 503 from a server, when configured', async () => {
    const sick = await backend('sick');
    sick.handler = (_req, res) => void res.writeHead(503).end('busy');
    const a = await backend('a');
    const base = await balance({
      backends: [sick.url, a.url],
      strategy: 'round-robin',
      retry: { idempotent: true },
    });
    const reply = await send(`${base}/x`);
    expect(reply.status).toBe(200);
    expect(sick.received.length).toBe(1);
    expect(a.received.length).toBe(1);
  });

  it('attempts are bounded: every server refusing gives one 502 after maxAttempts tries', async () => {
    const ports = await Promise.all([refusedPort(), refusedPort(), refusedPort(), refusedPort()]);
    const base = await balance({
      backends: ports.map((p) => `http://127.0.0.1:${p}`),
      retry: { maxAttempts: 3 },
      passive: false,
      panicThresholdPercent: 0,
    });
    const reply = await send(`${base}/`, { method: 'POST', body: 'x' });
    expect(reply.status).toBe(502);
    expect(reply.headers['x-unpinned-error']).toBe('UNPINNED_ERR_LB_BACKEND_UNREACHABLE');
    expect(retries(await lb!.metrics())).toBe(2);
    expect(lb!.backends().reduce((n, b) => n + b.requests, 0)).toBe(3);
  });

  it('the retry budget stops retries when it is spent', async () => {
    const dead = await refusedPort();
    const a = await backend('a');
    const base = await balance({
      backends: [`http://127.0.0.1:${dead}`, a.url],
      strategy: 'round-robin',
      retry: { budgetPercent: 0, minConcurrency: 0 },
    });
    const reply = await send(`${base}/`);
    expect(reply.status).toBe(502);
    expect(a.received).toEqual([]);
    expect(await lb!.metrics()).toMatch(/^unpinned_lb_retry_budget_exhausted_total 1$/m);
  });
});
