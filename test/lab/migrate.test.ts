/**
 * The lab's migrate scenario on real processes: the same seeded users logged in with carts on
 * the sticky in-memory fleet, then the naive way (round-robin and a redeploy onto the store)
 * beside `unpinned migrate`. Short: the cap and the idle window are a fraction of seconds.
 */
import { expect, it } from 'vitest';
import { checkClaims } from '../../src/lab/claims.js';
import { isRealtime, runLab } from '../../src/lab/run.js';
import { formatTable } from '../../src/lab/table.js';
import { describeRedis } from '../helpers/redis-server.js';

describeRedis('lab: migrate', () => {
  it('naive loses sessions; unpinned migrate loses none before the cap, new logins only on new servers', async () => {
    const result = await runLab({ scenarios: ['migrate'], durationMs: 3_000, users: 12 });
    const { sticky: naive, stateless: migrate } = result.scenarios.migrate!;
    if (!naive.applicable || !migrate.applicable || isRealtime(naive) || isRealtime(migrate))
      throw new Error('both arms run');
    expect(naive.label).toBe('naive');
    expect(migrate.label).toBe('unpinned migrate');
    expect(naive.sessionsLost).toBeGreaterThan(0);
    expect(migrate.migration?.sessionsLostBeforeCap).toBe(0);
    expect(migrate.failedRequests).toBe(0);
    const m = migrate.migration!;
    expect(m.oldServers).toEqual(['app-1', 'app-2', 'app-3']);
    for (const old of m.oldServers) expect(m.loginsAfter[old] ?? 0).toBe(0);
    expect(Object.keys(m.loginsAfter).length).toBeGreaterThan(0);
    // The chart's data: sessions left per old server, falling over time.
    expect(m.sessionsLeft.length).toBeGreaterThan(1);
    const total = (i: number) => Object.values(m.sessionsLeft[i]!.servers).reduce((a, b) => a + b, 0);
    expect(total(m.sessionsLeft.length - 1)).toBeLessThanOrEqual(total(0));
    expect(checkClaims(result).map((c) => [c.claim, c.held])).toEqual([
      ['naive: sessions lost', true],
      ['unpinned migrate: no session lost before the cap', true],
      ['unpinned migrate: new logins only on stateless servers', true],
    ]);
    expect(formatTable(result)).toContain('unpinned migrate');
  }, 120_000);
});
