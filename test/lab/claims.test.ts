/** The lab's claim checks: a claim that did not hold is reported as failed, never glossed over. */
import { describe, expect, it } from 'vitest';
import { checkClaims, formatClaims } from '../../src/lab/claims.js';
import type { LabResult, RunResult } from '../../src/lab/run.js';

function run(architecture: 'sticky' | 'stateless', figures: Partial<RunResult>): RunResult {
  return {
    applicable: true,
    architecture,
    strategy: architecture === 'sticky' ? 'sticky-cookie' : 'p2c',
    users: 10,
    heavyUsers: 0,
    durationMs: 1000,
    servers: { before: 2, after: 4 },
    capacity: null,
    fault: null,
    requests: 100,
    failedRequests: 0,
    failures: {},
    sessionsLost: 0,
    itemsLost: 0,
    p50Ms: 1,
    p90Ms: 2,
    p99Ms: 3,
    maxMs: 4,
    perServer: {},
    imbalance: 1,
    timeline: [],
    ...figures,
  };
}

function lab(scenarios: LabResult['scenarios']): LabResult {
  const options = { strategy: 'p2c', durationMs: 1000, users: 10, thinkMs: 100, seed: 1 };
  return { startedAt: '', options, scenarios };
}

describe('lab claims', () => {
  it('holds when sticky loses sessions and stateless loses nothing', () => {
    const claims = checkClaims(
      lab({
        'server-crash': {
          title: '',
          claim: '',
          sticky: run('sticky', { sessionsLost: 3, itemsLost: 5 }),
          stateless: run('stateless', {}),
        },
      }),
    );
    expect(claims.map((c) => c.held)).toEqual([true, true]);
  });

  it('reports a stateless loss and idle new servers as failed claims', () => {
    const fault = (perServerAfter: Record<string, number>) => ({
      label: 'scale',
      atMs: 0,
      doneMs: 1,
      perServerAfter,
    });
    const claims = checkClaims(
      lab({
        'scale-in': {
          title: '',
          claim: '',
          sticky: run('sticky', { sessionsLost: 0 }),
          stateless: run('stateless', { itemsLost: 1, failedRequests: 2 }),
        },
        'scale-out': {
          title: '',
          claim: '',
          sticky: run('sticky', { fault: fault({ 'app-1': 9, 'app-2': 9, 'app-3': 0, 'app-4': 0 }) }),
          stateless: run('stateless', { fault: fault({ 'app-1': 5, 'app-2': 5, 'app-3': 4, 'app-4': 0 }) }),
        },
      }),
    );
    expect(claims.map((c) => [c.scenario, c.claim, c.held])).toEqual([
      ['scale-in', 'sticky loses sessions', false],
      ['scale-in', 'stateless loses no session and no item', false],
      ['scale-in', 'stateless fails no request', false],
      ['scale-out', 'sticky: the new servers stay idle for pinned users', true],
      ['scale-out', 'stateless: the new servers take load at once', false],
    ]);
    expect(formatClaims(claims)).toContain(
      'FAILED  scale-in: stateless loses no session and no item (0 sessions, 1 items lost)',
    );
  });
});
