/** The lab's claim checks: a claim that did not hold is reported as failed, never glossed over. */
import { describe, expect, it } from 'vitest';
import { checkClaims, formatClaims } from '../../src/lab/claims.js';
import type { RealtimeRun } from '../../src/lab/realtime.js';
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

function realtime(architecture: 'sticky' | 'stateless', figures: Partial<RealtimeRun>): RealtimeRun {
  return {
    applicable: true,
    kind: 'realtime',
    architecture,
    label: architecture === 'sticky' ? 'Socket.IO 4.8 + redis-adapter' : 'unpinned realtime',
    transport: architecture === 'sticky' ? 'WebSocket' : 'SSE',
    strategy: architecture === 'sticky' ? 'sticky-cookie' : 'p2c',
    subscribers: 6,
    rooms: 2,
    published: 10,
    publishedPerSec: 100,
    expected: 60,
    delivered: 60,
    lost: 0,
    duplicated: 0,
    reordered: 0,
    resets: 0,
    cut: 2,
    resumed: 2,
    resumeP50Ms: 300,
    resumeP99Ms: 400,
    resumeMaxMs: 400,
    failedConnects: 0,
    durationMs: 1000,
    servers: { before: 3, after: 2 },
    fault: null,
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

  it('realtime: holds only when the kill cut subscribers, Socket.IO lost and unpinned lost nothing', () => {
    const verdicts = (sticky: Partial<RealtimeRun>, stateless: Partial<RealtimeRun>) =>
      checkClaims(
        lab({
          realtime: {
            title: '',
            claim: '',
            sticky: realtime('sticky', sticky),
            stateless: realtime('stateless', stateless),
          },
        }),
      ).map((c) => c.held);
    expect(verdicts({ lost: 30, delivered: 30 }, {})).toEqual([true, true]);
    // One reordered message, a subscriber that never came back: both fail the stateless claim.
    expect(verdicts({ lost: 30 }, { reordered: 1 })).toEqual([true, false]);
    expect(verdicts({ lost: 30 }, { resumed: 1 })).toEqual([true, false]);
    // A kill that cut nobody shows nothing either way.
    expect(verdicts({ cut: 0 }, { cut: 0, resumed: 0 })).toEqual([false, false]);
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
