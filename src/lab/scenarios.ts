/**
 * The scenarios of the lab (DESIGN.md §8). Each runs the same load with the same
 * fault at the same moment against the sticky baseline (in-memory sessions,
 * sticky-cookie routing) and the stateless system (shared store, any strategy).
 */
import type { System } from '../system/supervisor.js';
import type { UserModel } from './load.js';

export const scenarioIds = [
  'server-crash',
  'rolling-deploy',
  'scale-out',
  'scale-in',
  'heavy-users',
  'store-outage',
  'overhead',
  'migrate',
  'realtime',
] as const;

export type ScenarioId = (typeof scenarioIds)[number];
export type Architecture = 'sticky' | 'stateless';

export interface Fault {
  /** What happens, for the table and the report. */
  label: string;
  /** When it happens, as a fraction of the load's duration. */
  at: number;
  run(system: System, run: { durationMs: number }): Promise<unknown>;
}

export interface Scenario {
  id: ScenarioId;
  title: string;
  /** The claim this scenario measures. */
  claim: string;
  servers: number;
  /** Modelled capacity of each shop server; none = as fast as the host allows. */
  capacity: { maxConcurrent: number; serviceMs: number } | null;
  /** Overrides of the user model (e.g. the skew of heavy-users). */
  users: Partial<Omit<UserModel, 'seed'>>;
  fault: Fault | null;
  /**
   * Run both architectures at the same time instead of one after the other: for a comparison of
   * small latencies, so the shared host's noise falls on both alike.
   */
  paired?: boolean;
  /**
   * Both columns start as the sticky baseline and differ by what is done to it (migrate: the
   * naive way in the sticky column, `unpinned migrate` in the stateless one).
   */
  arms?: Record<Architecture, { label: string; fault: Fault }>;
  /** Architectures this scenario applies to, with the reason for any left out. */
  notApplicable?: Partial<Record<Architecture, string>>;
  /**
   * Live subscribers instead of shoppers (src/lab/realtime.ts): Socket.IO in the sticky column,
   * unpinned realtime in the stateless one. `users` is then the number of subscribers.
   */
  realtime?: true;
}

/** The server the crash scenario kills: the same one on both architectures. */
export const crashVictim = 'app-1';
/** How long the store stays down in store-outage. */
export const storeDownMs = 1_500;

const capacity = { maxConcurrent: 4, serviceMs: 5 };

export const scenarios: Record<ScenarioId, Scenario> = {
  'server-crash': {
    id: 'server-crash',
    title: 'Server crash',
    claim: 'sticky: the sessions on the crashed server are lost; stateless: none lost',
    servers: 3,
    capacity,
    users: {},
    fault: { label: `kill ${crashVictim} (SIGKILL)`, at: 0.4, run: (s) => s.kill(crashVictim) },
  },
  'rolling-deploy': {
    id: 'rolling-deploy',
    title: 'Rolling deploy',
    claim: 'sticky: sessions lost as each server is replaced; stateless: none lost, no failed requests',
    servers: 3,
    capacity,
    users: {},
    fault: { label: 'rolling deploy of every server', at: 0.2, run: (s) => s.deploy() },
  },
  'scale-out': {
    id: 'scale-out',
    title: 'Scale out',
    claim: 'sticky: new servers stay idle for pinned users; stateless: they take load at once',
    servers: 2,
    capacity,
    users: {},
    fault: { label: 'scale 2 → 4', at: 0.3, run: (s) => s.scale(4) },
  },
  'scale-in': {
    id: 'scale-in',
    title: 'Scale in',
    claim: 'sticky: sessions on the removed server are lost; stateless: none lost',
    servers: 3,
    capacity,
    users: {},
    fault: { label: 'scale 3 → 2', at: 0.4, run: (s) => s.scale(2) },
  },
  'heavy-users': {
    id: 'heavy-users',
    title: 'Heavy users',
    claim: 'sticky: pinned heavy users overload their server; stateless: load spread, lower tail latency',
    servers: 3,
    // One slot of 10 ms: 100 requests/s per server, so imbalance shows up as queueing. The load
    // is about 70% of the three servers: 4 heavy users at ~15 ms think time make most of it.
    capacity: { maxConcurrent: 1, serviceMs: 40 },
    // One heavy user more than servers: whichever way they are pinned, one server gets two.
    users: { heavyUsers: 4, heavyFactor: 20, thinkMs: 1200 },
    fault: null,
  },
  'store-outage': {
    id: 'store-outage',
    title: 'Store outage',
    claim: 'stateless only (the trade-off): 503s while the store is down, nothing lost, recovery in seconds',
    servers: 3,
    capacity,
    users: {},
    fault: {
      label: `store down for ${storeDownMs / 1000} s`,
      at: 0.3,
      run: (s) => s.restartStore({ downMs: storeDownMs }),
    },
    notApplicable: { sticky: 'the baseline keeps sessions in each server’s memory: it has no store to lose' },
  },
  overhead: {
    id: 'overhead',
    title: 'Overhead',
    claim: 'the price of stateless: a store round trip instead of an in-memory lookup',
    servers: 3,
    capacity: null,
    // Few users, little think time: many requests that never queue, so p50 is the server's own
    // time; both systems at once, so a busy host slows both alike.
    users: { users: 3, thinkMs: 5 },
    fault: null,
    paired: true,
  },
  migrate: {
    id: 'migrate',
    title: 'Off sticky sessions',
    claim:
      'naive (round-robin + redeploy onto the store): sessions lost; unpinned migrate: none lost before the cap, new logins only on stateless servers',
    servers: 3,
    capacity,
    // Users log out now and then (and log in again): a legacy session ends by its user's hand.
    users: { logoutChance: 0.04 },
    fault: null,
    arms: {
      sticky: {
        label: 'naive',
        fault: { label: 'round-robin, redeploy onto the store', at: 0.2, run: (s) => s.naiveMigrate() },
      },
      stateless: {
        label: 'unpinned migrate',
        fault: {
          label: 'unpinned migrate',
          at: 0.2,
          run: async (s, { durationMs }) => {
            await s.migrate({ capMs: Math.round(durationMs * migrateCapShare), idleMs: migrateIdleMs });
            await s.migrated;
          },
        },
      },
    },
  },
  realtime: {
    id: 'realtime',
    title: 'Realtime: server crash under live subscribers',
    claim:
      'sticky (Socket.IO + Redis adapter): the crashed server’s subscribers lose what is sent while they reconnect; stateless (unpinned realtime): none lost, duplicated or reordered',
    servers: 3,
    capacity: null,
    users: {},
    // The crash of server-crash: the same server, at the same point of the load.
    fault: { label: `kill ${crashVictim} (SIGKILL)`, at: 0.4, run: (s) => s.kill(crashVictim) },
    realtime: true,
  },
};

/** migrate: the cap and the idle window, as shares of the load's duration (seconds in --quick). */
export const migrateCapShare = 0.55;
export const migrateIdleMs = 600;

/** Resolve scenario ids from the command line; throws on an unknown one. */
export function selectScenarios(ids: readonly string[] | undefined): Scenario[] {
  if (!ids || ids.length === 0) return scenarioIds.map((id) => scenarios[id]);
  return ids.map((id) => {
    const scenario = scenarios[id as ScenarioId];
    if (!scenario) {
      throw new LabError(
        'UNPINNED_ERR_LAB_UNKNOWN_SCENARIO',
        `Unknown scenario "${id}". Scenarios: ${scenarioIds.join(', ')}.`,
      );
    }
    return scenario;
  });
}

export class LabError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = 'LabError';
    this.code = code;
  }
}
