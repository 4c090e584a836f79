/**
 * Runs scenarios against the real system: for each scenario and architecture, a
 * fresh `System` (real redis-server, real shop processes, the real balancer),
 * virtual users that log in and shop, the fault at the same moment of the same
 * load, and what the users saw, recorded.
 */
import type { StrategyName } from '../balancer/strategies/strategy.js';
import { childLogger, type Logger, silentLogger } from '../observe/log.js';
import { System } from '../system/supervisor.js';
import { runUsers, type UserModel } from './load.js';
import { missingRealtimePackages, planScenarios, type Skipped } from './packages.js';
import { type RealtimeRun, RealtimeScenarioRun } from './realtime.js';
import { type RecordedRun, Recorder } from './recorder.js';
import { type Architecture, LabError, type Scenario, selectScenarios } from './scenarios.js';
import { type StoreRtt, StoreRttProbe } from './store-rtt.js';
import { VirtualUser } from './virtual-user.js';

export interface LabOptions {
  /** Scenario ids (default: all). */
  scenarios?: readonly string[];
  /** Strategy of the stateless system (default p2c). */
  strategy?: StrategyName;
  /** Load duration of each run, ms (default 12 s; --quick 4 s). */
  durationMs?: number;
  users?: number;
  thinkMs?: number;
  seed?: number;
  /** Bucket width of the timeline, ms. */
  bucketMs?: number;
  onProgress?(event: ProgressEvent): void;
  /**
   * Structured events (pino's shape): each run's faults, and its supervisor's and balancer's
   * lines (server up, killed, draining, ejected, deploy and scale steps, store restarts), each
   * tagged with `scenario` and `architecture`. Default: none.
   */
  logger?: Logger;
}

export type ProgressEvent =
  | {
      kind: 'start';
      scenario: string;
      architecture: Architecture;
      index: number;
      total: number;
      sample(): Sample;
    }
  | {
      kind: 'done';
      scenario: string;
      architecture: Architecture;
      index: number;
      total: number;
      result: RunEntry;
    }
  /** A scenario left out of the default set (the realtime one, when its packages are missing). */
  | { kind: 'skip'; scenario: string; reason: string };

export interface Sample {
  phase: 'starting' | 'load' | 'stopping';
  fraction: number;
  requests: number;
  sessionsLost: number;
  /** What to show instead of requests and sessions (the realtime scenario has neither). */
  status?: string;
}

export interface FaultRecord {
  label: string;
  atMs: number;
  doneMs: number | null;
  /** store-outage: how long failures went on after the store was back, ms. */
  recoveryMs?: number;
  /** Requests per server from the end of the fault on (scale-out: do the new servers take load?). */
  perServerAfter?: Record<string, number>;
  /** The fault itself failed (e.g. a deploy whose new server did not start). */
  error?: string;
}

/** The migrate scenario: what the move did, over time. */
export interface MigrationRecord {
  /** The in-memory servers of the sticky fleet. */
  oldServers: string[];
  /** When the cap came, ms since time zero (null: every old server retired before it). */
  capAtMs: number | null;
  sessionsLostBeforeCap: number;
  /** Logins answered after the old servers were marked retiring, by server. */
  loginsAfter: Record<string, number>;
  /** Sessions left per old server, sampled over time (`unpinned migrate` only). */
  sessionsLeft: { t: number; servers: Record<string, number> }[];
}

export interface RunResult extends RecordedRun {
  applicable: true;
  architecture: Architecture;
  /** What this column is, where it is not the architecture (migrate: naive, unpinned migrate). */
  label?: string;
  migration?: MigrationRecord;
  strategy: string;
  users: number;
  heavyUsers: number;
  durationMs: number;
  servers: { before: number; after: number };
  capacity: Scenario['capacity'];
  fault: FaultRecord | null;
  /** The overhead scenario on a system with a store: PING round trips from the host. */
  storeRtt?: StoreRtt;
}

export interface NotApplicable {
  applicable: false;
  architecture: Architecture;
  reason: string;
}

export type RunEntry = RunResult | RealtimeRun | NotApplicable;

/** The realtime scenario's entries have their own figures (src/lab/realtime.ts). */
export function isRealtime(entry: RunEntry): entry is RealtimeRun {
  return entry.applicable && 'kind' in entry && entry.kind === 'realtime';
}

export interface LabResult {
  startedAt: string;
  options: { strategy: string; durationMs: number; users: number; thinkMs: number; seed: number };
  scenarios: Record<string, { title: string; claim: string; sticky: RunEntry; stateless: RunEntry }>;
  /** Scenarios of the default set that were left out, and why. */
  skipped?: Skipped[];
}

export const quickDefaults = { durationMs: 4_000, users: 24, thinkMs: 120 } as const;
export const fullDefaults = { durationMs: 12_000, users: 40, thinkMs: 120 } as const;

/**
 * Run the lab: every selected scenario on both architectures, one after the other.
 *
 * @example
 * const result = await runLab({ scenarios: ['server-crash'], durationMs: 3000 });
 * console.log(result.scenarios['server-crash'].sticky);
 */
export async function runLab(options: LabOptions = {}): Promise<LabResult> {
  const asked = selectScenarios(options.scenarios);
  const missing = asked.some((s) => s.realtime) ? await missingRealtimePackages() : [];
  const explicit = (options.scenarios?.length ?? 0) > 0;
  const { run: selected, skipped } = planScenarios(asked, explicit, missing);
  for (const s of skipped) options.onProgress?.({ kind: 'skip', ...s });
  const settings = {
    strategy: options.strategy ?? 'p2c',
    durationMs: options.durationMs ?? fullDefaults.durationMs,
    users: options.users ?? fullDefaults.users,
    thinkMs: options.thinkMs ?? fullDefaults.thinkMs,
    seed: options.seed ?? 1,
  };
  const result: LabResult = {
    startedAt: new Date().toISOString(),
    options: settings,
    scenarios: {},
    ...(skipped.length ? { skipped } : {}),
  };
  const total = selected.length * 2;
  let index = 0;
  for (const scenario of selected) {
    // Paired: both architectures at once, loads started together once both systems are up, so
    // the host's noise falls on both alike.
    const barrier = scenario.paired ? pairBarrier() : undefined;
    const runOne = async (architecture: Architecture, i: number): Promise<RunEntry> => {
      const base = { scenario: scenario.id, architecture, index: i, total };
      const reason = scenario.notApplicable?.[architecture];
      let entry: RunEntry;
      if (reason) {
        entry = { applicable: false, architecture, reason };
      } else if (scenario.realtime) {
        const users = scenario.users.users ?? settings.users;
        const bucketMs = options.bucketMs ?? defaultBucketMs(settings.durationMs);
        const run = new RealtimeScenarioRun(scenario, architecture, { ...settings, users }, bucketMs);
        options.onProgress?.({ kind: 'start', ...base, sample: () => run.sample() });
        entry = await run.execute();
      } else {
        const logger = childLogger(options.logger ?? silentLogger, { scenario: scenario.id, architecture });
        const run = new ScenarioRun(scenario, architecture, settings, logger, options.bucketMs);
        options.onProgress?.({ kind: 'start', ...base, sample: () => run.sample() });
        entry = await run.execute(barrier);
      }
      options.onProgress?.({ kind: 'done', ...base, result: entry });
      return entry;
    };
    const first = index;
    index += 2;
    const [sticky, stateless] = scenario.paired
      ? await Promise.all([runOne('sticky', first), runOne('stateless', first + 1)])
      : [await runOne('sticky', first), await runOne('stateless', first + 1)];
    result.scenarios[scenario.id] = { title: scenario.title, claim: scenario.claim, sticky, stateless };
  }
  return result;
}

type Settings = LabResult['options'];

/** Timeline buckets: about 40 over a run, at least 100 ms each. */
function defaultBucketMs(durationMs: number): number {
  return Math.max(100, Math.round(durationMs / 40));
}

/** Two runs meet here once both systems are up; if one fails to start, the other goes on alone. */
function pairBarrier(): (started: boolean) => Promise<void> {
  let arrived = 0;
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return (started) => {
    arrived++;
    if (arrived >= 2 || !started) open();
    return started ? opened : Promise.resolve();
  };
}

class ScenarioRun {
  readonly #scenario: Scenario;
  readonly #architecture: Architecture;
  readonly #settings: Settings;
  readonly #model: UserModel;
  readonly #bucketMs: number;
  readonly #logger: Logger;
  #recorder: Recorder | null = null;
  #loadStart = 0;
  #loadDone = false;

  constructor(
    scenario: Scenario,
    architecture: Architecture,
    settings: Settings,
    logger: Logger,
    bucketMs?: number,
  ) {
    this.#scenario = scenario;
    this.#logger = logger;
    this.#architecture = architecture;
    this.#settings = settings;
    this.#model = {
      users: settings.users,
      heavyUsers: 0,
      thinkMs: settings.thinkMs,
      heavyFactor: 1,
      seed: settings.seed,
      ...scenario.users,
    };
    this.#bucketMs = bucketMs ?? defaultBucketMs(settings.durationMs);
  }

  sample(): Sample {
    const recorder = this.#recorder;
    if (!recorder || !this.#loadStart)
      return { phase: 'starting', fraction: 0, requests: 0, sessionsLost: 0 };
    const elapsed = recorder.elapsed();
    const { requests, sessionsLost } = recorder.counts();
    const phase = this.#loadDone ? 'stopping' : 'load';
    return { phase, fraction: Math.min(1, elapsed / this.#settings.durationMs), requests, sessionsLost };
  }

  /** Start the system, wait for `ready` (the other half of a paired run), load it, stop it. */
  async execute(ready?: (started: boolean) => Promise<void>): Promise<RunResult> {
    const scenario = this.#scenario;
    // migrate: both columns start as the sticky baseline.
    const sticky = this.#architecture === 'sticky' || scenario.arms !== undefined;
    const system = new System({
      servers: scenario.servers,
      port: 0,
      sticky,
      strategy: this.#settings.strategy as StrategyName,
      store: 'redis',
      logger: this.#logger,
      ...(scenario.capacity ? { capacity: scenario.capacity } : {}),
    });
    try {
      await system.start();
      await ready?.(true);
      return await this.#load(system);
    } catch (error) {
      await ready?.(false);
      throw error;
    } finally {
      await system.stop();
    }
  }

  async #load(system: System): Promise<RunResult> {
    const { durationMs } = this.#settings;
    const recorder = new Recorder(performance.now(), this.#bucketMs);
    this.#recorder = recorder;
    const logins: { server: string; sentAt: number }[] = [];
    const events = {
      onRequest: (r: Parameters<Recorder['request']>[0]) => recorder.request(r),
      onLoss: (kind: 'session' | 'items', n: number, at: number) => recorder.loss(kind, n, at),
      onLogin: (server: string, sentAt: number) => logins.push({ server, sentAt }),
    };
    const users = Array.from(
      { length: this.#model.users },
      (_, i) => new VirtualUser(system.url, `user-${i}`, events),
    );
    const names = () => system.status().servers.map((s) => s.name);
    const before = names().length;
    recorder.knowServers(names());
    await Promise.all(users.map((u) => u.login()));
    const storeUrl =
      this.#scenario.id === 'overhead' && this.#architecture === 'stateless' ? system.storeUrl : null;
    const rtt = storeUrl ? await StoreRttProbe.start(storeUrl) : null;
    this.#loadStart = performance.now();
    // Time zero is the start of the load: the fault's offset is the same on both architectures.
    recorder.setOrigin(this.#loadStart);
    const oldServers = names();
    const fault = this.#scheduleFault(system, recorder);
    const sessionsLeft: MigrationRecord['sessionsLeft'] = [];
    const sampler = this.#scenario.arms
      ? setInterval(() => {
          const m = system.status().migration;
          if (!m) return;
          const servers = Object.fromEntries(m.servers.map((s) => [s.name, s.sessions]));
          sessionsLeft.push({ t: Math.round(recorder.elapsed()), servers });
        }, this.#bucketMs)
      : undefined;
    const tailMs = durationMs * 0.25;
    await runUsers(users, this.#model, {
      maxRequestsPerUser: Math.ceil((durationMs / (this.#model.thinkMs / this.#model.heavyFactor)) * 2) + 10,
      // Hard stop: a fault that hangs cannot keep the load going for more than a minute extra.
      deadline: this.#loadStart + durationMs + 60_000,
      stopped: () => {
        if (recorder.elapsed() < durationMs) return false;
        return (
          !fault.record ||
          (fault.record.doneMs !== null && recorder.elapsed() >= fault.record.doneMs + tailMs)
        );
      },
    });
    this.#loadDone = true;
    const storeRtt = await rtt?.stop();
    await fault.done;
    clearInterval(sampler);
    if (fault.record?.error) {
      throw new LabError(
        'UNPINNED_ERR_LAB_FAULT_FAILED',
        `${this.#scenario.id}: the fault "${fault.record.label}" failed: ${fault.record.error}`,
      );
    }
    recorder.knowServers(names());
    const recorded = recorder.result();
    const record = fault.record;
    if (record?.doneMs != null) record.perServerAfter = recorder.perServerSince(record.doneMs);
    if (record && this.#scenario.id === 'store-outage' && record.doneMs !== null) {
      const last = recorder.lastFailureMs;
      record.recoveryMs = last === null ? 0 : Math.max(0, Math.round(last - record.doneMs));
    }
    const arm = this.#scenario.arms?.[this.#architecture];
    const migration =
      arm && record ? this.#migration(system, recorder, record, oldServers, logins, sessionsLeft) : undefined;
    return {
      applicable: true,
      architecture: this.#architecture,
      ...(arm ? { label: arm.label } : {}),
      ...(migration ? { migration } : {}),
      strategy: system.status().balancer.strategy,
      users: this.#model.users,
      heavyUsers: this.#model.heavyUsers,
      durationMs: Math.round(performance.now() - this.#loadStart),
      servers: { before, after: system.status().servers.filter((s) => s.state === 'up').length },
      capacity: this.#scenario.capacity,
      fault: record,
      ...recorded,
      ...(storeRtt ? { storeRtt } : {}),
    };
  }

  #migration(
    system: System,
    recorder: Recorder,
    record: FaultRecord,
    oldServers: string[],
    logins: { server: string; sentAt: number }[],
    sessionsLeft: MigrationRecord['sessionsLeft'],
  ): MigrationRecord {
    const m = system.status().migration;
    const capped = m?.servers.some((s) => s.reason === 'cap') ?? false;
    const capAtMs = m?.capMs != null && capped ? record.atMs + m.capMs : null;
    // Logins sent after the old servers were marked retiring (the new ones are up then); before
    // it, the sticky fleet is all there is. The naive way: from the start of its redeploy. By the
    // time a login was sent, not answered: one sent just before the marking may be routed to an
    // old server and answered after it, which is what the sticky fleet does, not a new login
    // reaching an old server.
    const markedAt = system.migrationBeganAt;
    const from = markedAt === null ? record.atMs : recorder.elapsed(markedAt);
    const loginsAfter: Record<string, number> = {};
    for (const l of logins)
      if (recorder.elapsed(l.sentAt) >= from) loginsAfter[l.server] = (loginsAfter[l.server] ?? 0) + 1;
    return {
      oldServers,
      capAtMs,
      // The naive way has no cap: everything it lost counts.
      sessionsLostBeforeCap: recorder.sessionsLostBefore(capAtMs ?? Number.POSITIVE_INFINITY),
      loginsAfter,
      sessionsLeft,
    };
  }

  #scheduleFault(system: System, recorder: Recorder): { record: FaultRecord | null; done: Promise<void> } {
    const fault = this.#scenario.arms?.[this.#architecture].fault ?? this.#scenario.fault;
    if (!fault) return { record: null, done: Promise.resolve() };
    const atMs = fault.at * this.#settings.durationMs;
    const record: FaultRecord = { label: fault.label, atMs: 0, doneMs: null };
    const done = new Promise<void>((resolve) => {
      // The fault's moment is part of the scenario: the same offset into the same load on both.
      setTimeout(() => {
        record.atMs = Math.round(recorder.elapsed());
        this.#logger.info({ fault: fault.label, atMs: record.atMs }, `fault: ${fault.label}`);
        const finish = (error?: unknown) => {
          record.doneMs = Math.round(recorder.elapsed());
          if (error) record.error = error instanceof Error ? error.message : String(error);
          const fields = { fault: fault.label, atMs: record.atMs, doneMs: record.doneMs };
          if (record.error)
            this.#logger.error({ ...fields, error: record.error }, `fault failed: ${fault.label}`);
          else this.#logger.info(fields, `fault done: ${fault.label}`);
          resolve();
        };
        fault.run(system, { durationMs: this.#settings.durationMs }).then(() => finish(), finish);
      }, atMs);
    });
    return { record, done };
  }
}
