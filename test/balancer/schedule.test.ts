/**
 * The same table idea end to end: real servers, the real proxy, and a scripted schedule of a
 * crash (the server stops listening), drains, a restart and the ejection cooldown on an injected
 * clock. The exact sequence of servers that answered is checked, and no client request fails.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Balancer, createBalancer } from '../../src/balancer/index.js';
import { startBackends, type TestBackend } from '../helpers/backends.js';
import { send } from '../helpers/client.js';
import { ManualClock } from '../helpers/manual-clock.js';

describe('round-robin through the proxy under a failure schedule', () => {
  let servers: TestBackend[];
  let lb: Balancer;
  let base: string;
  const clock = new ManualClock();

  beforeAll(async () => {
    servers = await startBackends(['a', 'b', 'c']);
    lb = createBalancer({
      backends: servers.map((s) => ({ url: s.url, id: s.name })),
      strategy: 'round-robin',
      servedByHeader: 'x-served-by',
      passive: { consecutiveFailures: 2, cooldownMs: 30_000 },
      clock,
    });
    base = `http://127.0.0.1:${(await lb.listen(0, '127.0.0.1')).port}`;
  });
  afterAll(async () => {
    await lb.close();
    await Promise.all(servers.map((s) => s.stop()));
  });

  async function sequence(n: number): Promise<string> {
    let out = '';
    for (let i = 0; i < n; i++) {
      const reply = await send(`${base}/`);
      expect(reply.status).toBe(200);
      out += reply.headers['x-served-by'];
    }
    return out;
  }
  const byName = (name: string) => servers.find((s) => s.name === name)!;

  const schedule: { step: string; act: () => Promise<unknown> | unknown; expected: string }[] = [
    { step: 'all up', act: () => {}, expected: 'abcabc' },
    // b crashes: its picks fail to connect and are retried on the next server (c); after two
    // consecutive failures b is ejected and the rotation is a, c.
    { step: 'b crashes', act: () => byName('b').stop(), expected: 'acacac' },
    { step: 'a drains', act: () => lb.drain('a'), expected: 'ccc' },
    { step: 'a undrains', act: () => lb.undrain('a'), expected: 'acac' },
    { step: 'b restarts, still ejected', act: () => byName('b').start(), expected: 'acac' },
    { step: 'cooldown passes', act: () => clock.tick(30_000), expected: 'abcabc' },
  ];

  it('answers every request, in the expected order', async () => {
    for (const { step, act, expected } of schedule) {
      await act();
      expect(await sequence(expected.length), step).toBe(expected);
    }
    const b = lb.backends().find((s) => s.id === 'b')!;
    expect(b.ejections).toBe(1);
    expect(b.failures).toBe(2);
  });
});
