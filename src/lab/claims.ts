/**
 * The claims of DESIGN.md §8, checked against one lab result: which held in this
 * run and which did not. The lab reports them; it does not hide a claim that
 * failed, and a failed claim does not make the run fail (it is a measurement).
 */
import type { RealtimeRun } from './realtime.js';
import { isRealtime, type LabResult, type RunEntry, type RunResult } from './run.js';

export interface Claim {
  scenario: string;
  claim: string;
  held: boolean;
  /** The figures the verdict rests on. */
  evidence: string;
}

type Check = (sticky: RunResult, stateless: RunResult) => Omit<Claim, 'scenario'>[];

const losesSessions: Check = (sticky, stateless) => [
  {
    claim: 'sticky loses sessions',
    held: sticky.sessionsLost > 0,
    evidence: `${sticky.sessionsLost} sessions, ${sticky.itemsLost} items lost`,
  },
  {
    claim: 'stateless loses no session and no item',
    held: stateless.sessionsLost === 0 && stateless.itemsLost === 0,
    evidence: `${stateless.sessionsLost} sessions, ${stateless.itemsLost} items lost`,
  },
];

const noFailures: Check = (_sticky, stateless) => [
  {
    claim: 'stateless fails no request',
    held: stateless.failedRequests === 0,
    evidence: `${stateless.failedRequests} failed`,
  },
];

/** Requests after the fault on the servers that did not exist before it. */
function newServerLoad(run: RunResult): number[] {
  return Object.entries(run.fault?.perServerAfter ?? {})
    .filter(([name]) => Number(name.replace(/^app-/, '')) > run.servers.before)
    .map(([, n]) => n);
}

/** Logins after the move started that landed on an old (in-memory) server. */
function oldLogins(run: RunResult): number {
  const m = run.migration;
  if (!m) return Number.NaN;
  return m.oldServers.reduce((n, name) => n + (m.loginsAfter[name] ?? 0), 0);
}

const migrate: Check = (naive, unpinned) => [
  {
    claim: 'naive: sessions lost',
    held: naive.sessionsLost > 0,
    evidence: `${naive.sessionsLost} sessions, ${naive.itemsLost} items lost`,
  },
  {
    claim: 'unpinned migrate: no session lost before the cap',
    held: unpinned.migration?.sessionsLostBeforeCap === 0,
    evidence: `${unpinned.migration?.sessionsLostBeforeCap} lost before the cap, ${unpinned.sessionsLost} in all (forced out at the cap: ${unpinned.sessionsLost - (unpinned.migration?.sessionsLostBeforeCap ?? 0)})`,
  },
  {
    claim: 'unpinned migrate: new logins only on stateless servers',
    held: oldLogins(unpinned) === 0 && Object.keys(unpinned.migration?.loginsAfter ?? {}).length > 0,
    evidence: `${oldLogins(unpinned)} logins on old servers after the start, logins by server ${JSON.stringify(unpinned.migration?.loginsAfter ?? {})}`,
  },
];

const checks: Record<string, Check> = {
  'server-crash': losesSessions,
  'rolling-deploy': (a, b) => [...losesSessions(a, b), ...noFailures(a, b)],
  'scale-in': (a, b) => [...losesSessions(a, b), ...noFailures(a, b)],
  'scale-out': (sticky, stateless) => [
    {
      claim: 'sticky: the new servers stay idle for pinned users',
      held: newServerLoad(sticky).every((n) => n === 0),
      evidence: `new servers got ${newServerLoad(sticky).join(', ')} requests`,
    },
    {
      claim: 'stateless: the new servers take load at once',
      held: newServerLoad(stateless).length > 0 && newServerLoad(stateless).every((n) => n > 0),
      evidence: `new servers got ${newServerLoad(stateless).join(', ')} requests`,
    },
  ],
  migrate,
  'heavy-users': (sticky, stateless) => [
    {
      claim: 'stateless has the lower tail latency',
      held: stateless.p99Ms < sticky.p99Ms,
      evidence: `p99 ${sticky.p99Ms} ms sticky, ${stateless.p99Ms} ms stateless`,
    },
  ],
  overhead: (sticky, stateless) => {
    const work = stateless.sessionWork;
    if (!work) return [];
    // What the store adds is the session work beyond an in-memory lookup, against what a user waits.
    const addedUs = work.sessionP50Us - (sticky.sessionWork?.sessionP50Us ?? 0);
    const share = (addedUs / (stateless.p50Ms * 1000)) * 100;
    return [
      {
        claim: 'a session lookup in the store adds under 10% to what a user waits',
        held: share < 10,
        evidence: `+${addedUs} µs over in-memory at p50 in the app, ${share.toFixed(1)}% of the ${stateless.p50Ms} ms p50 end to end`,
      },
    ];
  },
};

const outage = (stateless: RunResult): Omit<Claim, 'scenario'>[] => [
  {
    claim: 'stateless: 503s while the store is down, nothing lost, recovery in seconds',
    held:
      stateless.failedRequests > 0 &&
      stateless.sessionsLost === 0 &&
      stateless.itemsLost === 0 &&
      (stateless.fault?.recoveryMs ?? Number.POSITIVE_INFINITY) < 5_000,
    evidence: `${stateless.failedRequests} failed, ${stateless.sessionsLost} sessions and ${stateless.itemsLost} items lost, failures ended ${stateless.fault?.recoveryMs} ms after the store was back`,
  },
];

/**
 * realtime: Socket.IO's crashed subscribers lose what was sent while they were away (its Redis
 * adapter relays, it keeps nothing), unpinned's resume from their offset. Both only count if the
 * kill did cut subscribers: a run where it cut none shows nothing either way.
 */
const realtime = (sticky: RealtimeRun, stateless: RealtimeRun): Omit<Claim, 'scenario'>[] => [
  {
    claim: 'sticky (Socket.IO + Redis adapter): the crashed server’s subscribers lose messages',
    held: sticky.cut > 0 && sticky.lost > 0,
    evidence: `${sticky.cut} subscribers cut, ${sticky.lost} of ${sticky.expected} messages lost, ${sticky.duplicated} duplicated, ${sticky.reordered} reordered; resume p50 ${sticky.resumeP50Ms} ms, p99 ${sticky.resumeP99Ms} ms; ${sticky.failedConnects} failed connects`,
  },
  {
    claim: 'stateless (unpinned realtime): none lost, duplicated or reordered; every cut subscriber resumed',
    held:
      stateless.cut > 0 &&
      stateless.resumed === stateless.cut &&
      stateless.lost === 0 &&
      stateless.duplicated === 0 &&
      stateless.reordered === 0 &&
      stateless.resets === 0,
    evidence: `${stateless.cut} subscribers cut, ${stateless.resumed} resumed (p50 ${stateless.resumeP50Ms} ms, p99 ${stateless.resumeP99Ms} ms); ${stateless.lost} lost, ${stateless.duplicated} duplicated, ${stateless.reordered} reordered, ${stateless.resets} resets of ${stateless.expected}`,
  },
];

export function checkClaims(result: LabResult): Claim[] {
  const claims: Claim[] = [];
  for (const [scenario, { sticky, stateless }] of Object.entries(result.scenarios)) {
    if (isRealtime(sticky) && isRealtime(stateless)) {
      for (const c of realtime(sticky, stateless)) claims.push({ scenario, ...c });
      continue;
    }
    if (!ran(stateless)) continue;
    const found =
      scenario === 'store-outage'
        ? outage(stateless)
        : ran(sticky)
          ? (checks[scenario]?.(sticky, stateless) ?? [])
          : [];
    for (const c of found) claims.push({ scenario, ...c });
  }
  return claims;
}

function ran(entry: RunEntry): entry is RunResult {
  return entry.applicable && !isRealtime(entry);
}

export function formatClaims(claims: readonly Claim[]): string {
  return claims
    .map((c) => `${c.held ? 'held  ' : 'FAILED'}  ${c.scenario}: ${c.claim} (${c.evidence})`)
    .join('\n');
}
