/**
 * The simulation runs the balancer's strategy classes on a virtual clock. Its
 * invariants: round-robin spreads requests evenly, sticky routing with skewed
 * users spreads them worse than any per-request strategy, only sticky routing
 * loses sessions when a server crashes, and the same seed gives the same result.
 */
import { describe, expect, it } from 'vitest';
import { strategyNames } from '../../src/balancer/strategies/strategy.js';
import { generateWorkload } from '../../src/lab/sim-workload.js';
import { type SimulationResult, simulate } from '../../src/lab/simulate.js';

const options = { servers: 20, users: 10_000, seed: 3, parallel: false } as const;

describe('lab --simulate', () => {
  let result: SimulationResult;
  const by = (name: string) => result.strategies.find((s) => s.strategy === name)!;

  it('runs every strategy over the same skewed workload', async () => {
    result = await simulate(options);
    expect(result.strategies.map((s) => s.strategy)).toEqual([...strategyNames]);
    // Skewed: the busiest 1% of users make far more than 1% of the requests.
    expect(result.topUsersShare).toBeGreaterThan(0.1);
    for (const s of result.strategies)
      expect(s.meanPerServer * result.servers).toBeLessThanOrEqual(result.requests);
  });

  it('round-robin and least-connections spread the load evenly; sticky routing does not', () => {
    expect(by('round-robin').imbalance).toBeLessThanOrEqual(1.01);
    expect(by('least-connections').imbalance).toBeLessThanOrEqual(1.05);
    const stateless = ['round-robin', 'least-connections', 'p2c', 'random'].map((n) => by(n).imbalance);
    for (const sticky of ['sticky-cookie', 'ip-hash']) {
      expect(by(sticky).imbalance).toBeGreaterThan(Math.max(...stateless));
    }
  });

  it('loses sessions on a crash only under sticky routing', () => {
    for (const name of ['round-robin', 'least-connections', 'random', 'p2c'])
      expect(by(name).sessionsLost).toBe(0);
    for (const name of ['sticky-cookie', 'ip-hash']) expect(by(name).sessionsLost).toBeGreaterThan(0);
  });

  it('is deterministic for a seed, and worker threads give the same figures as one thread', async () => {
    const again = await simulate({ ...options, parallel: true });
    const strip = (r: SimulationResult) => r.strategies;
    expect(strip(again)).toEqual(strip(result));
  });

  it('generates the workload sorted in time, every user at least once', () => {
    const w = generateWorkload({
      users: 1000,
      windowMs: 60_000,
      alpha: 1.5,
      maxRequestsPerUser: 50,
      thinkMs: 1000,
      seed: 1,
    });
    const seen = new Set<number>();
    for (let i = 0; i < w.requests; i++) {
      seen.add(w.user[i]!);
      if (i > 0) expect(Math.floor(w.at[i]!)).toBeGreaterThanOrEqual(Math.floor(w.at[i - 1]!));
    }
    expect(seen.size).toBe(1000);
  });
});
