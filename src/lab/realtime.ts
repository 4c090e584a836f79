/**
 * The lab's `realtime` scenario: live subscribers through the balancer, numbered messages
 * published to their rooms, and the server-crash scenario's SIGKILL, on both columns:
 *
 * - sticky: Socket.IO 4.8 with @socket.io/redis-adapter on three servers behind the
 *   sticky-cookie balancer, as Socket.IO's docs require for several servers;
 * - stateless: unpinned realtime over SSE behind the balancer with the lab's strategy.
 *
 * Each system is the supervisor's (`unpinned up` with src/lab/realtime-server.ts as the app),
 * on loopback, with its own Redis. The oracle is exact: message n of a room is owed to every
 * subscriber of the room (all subscribed before the first one), so per subscriber a missing n
 * is lost, a second n a duplicate, an n below one already seen out of order. Resume time: from
 * the moment a subscriber's connection ended to its first message over the new one.
 */
import { join } from 'node:path';
import type { StrategyName } from '../balancer/strategies/strategy.js';
import { packageRoot } from '../system/paths.js';
import { System } from '../system/supervisor.js';
import { Watch } from './realtime-oracle.js';
import { loadStack, type Publisher } from './realtime-stacks.js';
import type { FaultRecord, Sample } from './run.js';
import { type Architecture, LabError, type Scenario } from './scenarios.js';

const ROOMS = 4;
/** One message per room per tick: 4 rooms every 20 ms, 200 messages/s. */
const TICK_MS = 20;
const READY_MS = 20_000;
/** After the load: how long subscribers get to catch up before what they lack counts as lost. */
const SETTLE_MS = 5_000;

export interface RealtimeRun {
  applicable: true;
  kind: 'realtime';
  architecture: Architecture;
  /** What ran in this column. */
  label: string;
  transport: string;
  strategy: string;
  subscribers: number;
  rooms: number;
  /** Messages published per room, numbered 1..published; each is owed to every subscriber of its room. */
  published: number;
  publishedPerSec: number;
  /** subscribers × published. */
  expected: number;
  /** Distinct messages the subscribers got. */
  delivered: number;
  lost: number;
  duplicated: number;
  reordered: number;
  resets: number;
  /** Subscribers whose connection the fault ended, and how many of them got messages again. */
  cut: number;
  resumed: number;
  /** From a cut to the first message over the new connection (nearest rank over every cut). */
  resumeP50Ms: number | null;
  resumeP99Ms: number | null;
  resumeMaxMs: number | null;
  /** Connection attempts that did not open (Socket.IO `connect_error`; an EventSource ended for good). */
  failedConnects: number;
  durationMs: number;
  servers: { before: number; after: number };
  fault: FaultRecord | null;
  /** Per bucket: messages delivered (by arrival) and lost (by when they were published). */
  timeline: { t: number; delivered: number; lost: number }[];
}

export interface RealtimeSettings {
  strategy: string;
  durationMs: number;
  /** Subscribers. */
  users: number;
}

/** The built app server of this scenario (`npm run build` produces it). */
export function realtimeServerPath(): string {
  return join(packageRoot(), 'dist', 'src', 'lab', 'realtime-server.js');
}

export class RealtimeScenarioRun {
  readonly #scenario: Scenario;
  readonly #architecture: Architecture;
  readonly #settings: RealtimeSettings;
  readonly #bucketMs: number;
  #origin = 0;
  #watches: Watch[] = [];
  #delivered = 0;
  #done = false;

  constructor(scenario: Scenario, architecture: Architecture, settings: RealtimeSettings, bucketMs: number) {
    this.#scenario = scenario;
    this.#architecture = architecture;
    this.#settings = settings;
    this.#bucketMs = bucketMs;
  }

  sample(): Sample {
    if (!this.#origin) return { phase: 'starting', fraction: 0, requests: 0, sessionsLost: 0 };
    const elapsed = performance.now() - this.#origin;
    const cut = this.#watches.filter((w) => w.cuts > 0).length;
    return {
      phase: this.#done ? 'stopping' : 'load',
      fraction: Math.min(1, elapsed / this.#settings.durationMs),
      requests: 0,
      sessionsLost: 0,
      status: `${this.#delivered} messages delivered, ${cut} subscribers cut`,
    };
  }

  async execute(): Promise<RealtimeRun> {
    const stack = await loadStack(this.#architecture);
    const strategy = this.#architecture === 'sticky' ? 'sticky-cookie' : this.#settings.strategy;
    const system = new System({
      servers: this.#scenario.servers,
      port: 0,
      store: 'redis',
      strategy: strategy as StrategyName,
      app: [process.execPath, realtimeServerPath(), stack.id],
    });
    const clients: { close(): void }[] = [];
    let publisher: Publisher | undefined;
    try {
      await system.start();
      const rooms = Array.from({ length: ROOMS }, (_, i) => `lab-${i}`);
      const buckets = new Map<number, number>();
      const now = () => performance.now() - this.#origin;
      const arrived = (at: number) => {
        this.#delivered++;
        const b = Math.floor(at / this.#bucketMs);
        buckets.set(b, (buckets.get(b) ?? 0) + 1);
      };
      this.#watches = Array.from({ length: this.#settings.users }, () => new Watch(now, arrived));
      for (const [i, watch] of this.#watches.entries())
        clients.push(stack.subscribe(system.url, rooms[i % ROOMS]!, watch));
      if (!(await until(() => this.#watches.every((w) => w.subscribed), READY_MS))) {
        const ready = this.#watches.filter((w) => w.subscribed).length;
        const failed = this.#watches.reduce((n, w) => n + w.failedConnects, 0);
        throw new LabError(
          'UNPINNED_ERR_LAB_NOT_READY',
          `realtime ${this.#architecture} (${stack.label}): ${ready} of ${this.#watches.length} subscribers were subscribed ${READY_MS / 1000} s after connecting (${failed} connection attempts failed). ` +
            `To see the app servers' output, run them by hand: unpinned up --app "node dist/src/lab/realtime-server.js ${stack.id}"`,
        );
      }
      publisher = await stack.publisher(system.storeUrl!);
      return await this.#load(system, stack, strategy, publisher, rooms, buckets);
    } finally {
      this.#done = true;
      for (const client of clients) client.close();
      await publisher?.close();
      await system.stop();
    }
  }

  async #load(
    system: System,
    stack: { label: string; transport: string },
    strategy: string,
    publisher: Publisher,
    rooms: string[],
    buckets: Map<number, number>,
  ): Promise<RealtimeRun> {
    const { durationMs } = this.#settings;
    const watches = this.#watches;
    this.#origin = performance.now();
    const elapsed = () => Math.round(performance.now() - this.#origin);
    const fault = this.#scheduleFault(system, elapsed);
    // Bounded both ways: exactly `ticks` messages per room on both columns (the same load), and
    // never past twice the duration if publishing falls behind.
    const ticks = Math.max(1, Math.floor(durationMs / TICK_MS));
    const publishedAt: number[] = [];
    let sent = 0;
    while (sent < ticks && elapsed() < durationMs * 2) {
      const wait = (sent + 1) * TICK_MS - elapsed();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      sent++;
      publishedAt[sent] = elapsed();
      await Promise.all(rooms.map((room) => publisher.publish(room, sent)));
    }
    const publishMs = Math.max(1, elapsed());
    await fault.done;
    if (fault.record?.error) {
      throw new LabError(
        'UNPINNED_ERR_LAB_FAULT_FAILED',
        `${this.#scenario.id}: the fault "${fault.record.label}" failed: ${fault.record.error}`,
      );
    }
    await until(() => watches.every((w) => w.last >= sent), SETTLE_MS);
    this.#done = true;

    const lostAt = new Map<number, number>();
    let lost = 0;
    for (const w of watches) {
      for (let n = 1; n <= sent; n++) {
        if (w.seen.has(n)) continue;
        lost++;
        const b = Math.floor(publishedAt[n]! / this.#bucketMs);
        lostAt.set(b, (lostAt.get(b) ?? 0) + 1);
      }
    }
    const resumes = watches.flatMap((w) => w.resumes).sort((a, b) => a - b);
    const rank = (q: number) =>
      resumes.length === 0 ? null : Math.round(resumes[Math.max(0, Math.ceil(q * resumes.length) - 1)]!);
    const sum = (f: (w: Watch) => number) => watches.reduce((n, w) => n + f(w), 0);
    const lastBucket = Math.max(0, ...buckets.keys(), ...lostAt.keys());
    return {
      applicable: true,
      kind: 'realtime',
      architecture: this.#architecture,
      label: stack.label,
      transport: stack.transport,
      strategy,
      subscribers: watches.length,
      rooms: rooms.length,
      published: sent,
      publishedPerSec: Math.round(((sent * rooms.length) / publishMs) * 1000),
      expected: sent * watches.length,
      delivered: sum((w) => w.seen.size),
      lost,
      duplicated: sum((w) => w.duplicated),
      reordered: sum((w) => w.reordered),
      resets: sum((w) => w.resets),
      cut: watches.filter((w) => w.cuts > 0).length,
      resumed: watches.filter((w) => w.cuts > 0 && !w.waiting).length,
      resumeP50Ms: rank(0.5),
      resumeP99Ms: rank(0.99),
      resumeMaxMs: rank(1),
      failedConnects: sum((w) => w.failedConnects),
      durationMs: elapsed(),
      servers: {
        before: this.#scenario.servers,
        after: system.status().servers.filter((s) => s.state === 'up').length,
      },
      fault: fault.record,
      timeline: Array.from({ length: lastBucket + 1 }, (_, b) => ({
        t: b * this.#bucketMs,
        delivered: buckets.get(b) ?? 0,
        lost: lostAt.get(b) ?? 0,
      })),
    };
  }

  /** The scenario's fault at the same point of the load as in the other scenarios. */
  #scheduleFault(system: System, elapsed: () => number): { record: FaultRecord | null; done: Promise<void> } {
    const fault = this.#scenario.fault;
    if (!fault) return { record: null, done: Promise.resolve() };
    const record: FaultRecord = { label: fault.label, atMs: 0, doneMs: null };
    const done = new Promise<void>((resolve) => {
      setTimeout(() => {
        record.atMs = elapsed();
        const finish = (error?: unknown) => {
          record.doneMs = elapsed();
          if (error) record.error = error instanceof Error ? error.message : String(error);
          resolve();
        };
        fault.run(system, { durationMs: this.#settings.durationMs }).then(() => finish(), finish);
      }, fault.at * this.#settings.durationMs);
    });
    return { record, done };
  }
}

async function until(done: () => boolean, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (!done()) {
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}
