/**
 * Collects what the virtual users saw during one run: latency in an HDR
 * histogram (microseconds), requests per server, and a timeline in fixed
 * buckets (requests per server, failures, losses, latency percentiles) for the
 * report's charts.
 */
import { build, type Histogram } from 'hdr-histogram-js';
import type { RequestRecord } from './virtual-user.js';

export interface TimelineBucket {
  /** Start of the bucket, ms since the run began. */
  t: number;
  perServer: Record<string, number>;
  failed: number;
  sessionsLost: number;
  itemsLost: number;
  p50Ms: number;
  p99Ms: number;
}

export interface RecordedRun {
  requests: number;
  failedRequests: number;
  /** Failed requests by cause: status and balancer error code, or the network error. */
  failures: Record<string, number>;
  sessionsLost: number;
  itemsLost: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  perServer: Record<string, number>;
  /** max / mean of the per-server request counts (1.0 is perfectly even). */
  imbalance: number;
  timeline: TimelineBucket[];
  /** Measured inside the app servers (their Server-Timing), when they sent it. */
  sessionWork?: SessionWork;
}

/** The session's cost inside the app: what a request spent in session load + commit. */
export interface SessionWork {
  /** Answers that carried a Server-Timing. */
  requests: number;
  sessionP50Us: number;
  sessionP99Us: number;
  /** The app's own time per request, from its session middleware to the response head. */
  appP50Us: number;
  appP99Us: number;
  /** Session work as a share of the app's time, summed over all requests, in %. */
  sharePercent: number;
}

export function newHistogram(): Histogram {
  // 1 µs to 10 minutes at 3 significant digits.
  return build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 600_000_000,
    numberOfSignificantValueDigits: 3,
  });
}

export class Recorder {
  #origin: number;
  readonly #bucketMs: number;
  readonly #histogram = newHistogram();
  readonly #sessionHistogram = newHistogram();
  readonly #appHistogram = newHistogram();
  #sessionUsTotal = 0;
  #appUsTotal = 0;
  readonly #perServer = new Map<string, number>();
  readonly #records: RequestRecord[] = [];
  readonly #losses: { kind: 'session' | 'items'; count: number; at: number }[] = [];
  #sessionsLost = 0;
  #itemsLost = 0;

  constructor(origin: number, bucketMs: number) {
    this.#origin = origin;
    this.#bucketMs = bucketMs;
  }

  /**
   * Time zero of the run: the start of the load. What was recorded before (the users' logins, all
   * at once) is setup, not load: it is forgotten, so a login stampede does not pass for tail latency.
   */
  setOrigin(at: number): void {
    this.#origin = at;
    this.#records.length = 0;
    this.#losses.length = 0;
    this.#sessionsLost = 0;
    this.#itemsLost = 0;
    this.#histogram.reset();
    this.#sessionHistogram.reset();
    this.#appHistogram.reset();
    this.#sessionUsTotal = 0;
    this.#appUsTotal = 0;
    for (const name of this.#perServer.keys()) this.#perServer.set(name, 0);
  }

  /** Milliseconds since time zero. */
  elapsed(at = performance.now()): number {
    return at - this.#origin;
  }

  /** Servers to list even if they answered nothing (a new server pinned users never reach). */
  knowServers(names: Iterable<string>): void {
    for (const name of names) if (!this.#perServer.has(name)) this.#perServer.set(name, 0);
  }

  /** Cheap running totals, for progress bars. */
  counts(): { requests: number; sessionsLost: number } {
    return { requests: this.#records.length, sessionsLost: this.#sessionsLost };
  }

  /** When the last failed request ended, ms since time zero (null: none failed). */
  get lastFailureMs(): number | null {
    for (let i = this.#records.length - 1; i >= 0; i--) {
      if (!this.#records[i]!.ok) return this.elapsed(this.#records[i]!.at);
    }
    return null;
  }

  request(record: RequestRecord): void {
    this.#records.push(record);
    this.#histogram.recordValue(record.latencyUs);
    if (record.sessionUs !== undefined && record.appUs !== undefined) {
      this.#sessionHistogram.recordValue(record.sessionUs);
      this.#appHistogram.recordValue(record.appUs);
      this.#sessionUsTotal += record.sessionUs;
      this.#appUsTotal += record.appUs;
    }
    if (record.ok && record.server !== null) {
      this.#perServer.set(record.server, (this.#perServer.get(record.server) ?? 0) + 1);
    }
  }

  loss(kind: 'session' | 'items', count: number, at: number): void {
    this.#losses.push({ kind, count, at });
    if (kind === 'session') this.#sessionsLost += count;
    else this.#itemsLost += count;
  }

  /** Sessions lost before `ms` (since time zero). */
  sessionsLostBefore(ms: number): number {
    let n = 0;
    for (const l of this.#losses) if (l.kind === 'session' && this.elapsed(l.at) < ms) n += l.count;
    return n;
  }

  /** Requests per server answered from `fromMs` (since time zero) on. */
  perServerSince(fromMs: number): Record<string, number> {
    const counts = new Map([...this.#perServer.keys()].map((name) => [name, 0]));
    for (const r of this.#records) {
      if (r.ok && r.server !== null && this.elapsed(r.at) >= fromMs)
        counts.set(r.server, (counts.get(r.server) ?? 0) + 1);
    }
    return sortedByName(counts);
  }

  result(): RecordedRun {
    const h = this.#histogram;
    const counts = [...this.#perServer.values()];
    const mean = counts.reduce((a, b) => a + b, 0) / (counts.length || 1);
    return {
      requests: this.#records.length,
      failedRequests: this.#records.filter((r) => !r.ok).length,
      failures: this.#failures(),
      sessionsLost: this.#sessionsLost,
      itemsLost: this.#itemsLost,
      p50Ms: usToMs(h.getValueAtPercentile(50)),
      p90Ms: usToMs(h.getValueAtPercentile(90)),
      p99Ms: usToMs(h.getValueAtPercentile(99)),
      maxMs: usToMs(h.maxValue),
      perServer: sortedByName(this.#perServer),
      imbalance: counts.length ? round2(Math.max(...counts) / mean) : 0,
      timeline: this.#timeline(),
      ...(this.#sessionHistogram.totalCount > 0 ? { sessionWork: this.#sessionWork() } : {}),
    };
  }

  #sessionWork(): SessionWork {
    const s = this.#sessionHistogram;
    const a = this.#appHistogram;
    return {
      requests: s.totalCount,
      sessionP50Us: s.getValueAtPercentile(50),
      sessionP99Us: s.getValueAtPercentile(99),
      appP50Us: a.getValueAtPercentile(50),
      appP99Us: a.getValueAtPercentile(99),
      sharePercent: Math.round((this.#sessionUsTotal / this.#appUsTotal) * 1000) / 10,
    };
  }

  #failures(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.#records)
      if (!r.ok) out[r.failure ?? 'unknown'] = (out[r.failure ?? 'unknown'] ?? 0) + 1;
    return out;
  }

  #timeline(): TimelineBucket[] {
    const buckets: (TimelineBucket & { latencies: number[] })[] = [];
    const bucket = (at: number) => {
      const index = Math.max(0, Math.floor(this.elapsed(at) / this.#bucketMs));
      while (buckets.length <= index) {
        const t = buckets.length * this.#bucketMs;
        buckets.push({
          t,
          perServer: {},
          failed: 0,
          sessionsLost: 0,
          itemsLost: 0,
          p50Ms: 0,
          p99Ms: 0,
          latencies: [],
        });
      }
      return buckets[index]!;
    };
    for (const r of this.#records) {
      const b = bucket(r.at);
      b.latencies.push(r.latencyUs);
      if (r.ok && r.server !== null) b.perServer[r.server] = (b.perServer[r.server] ?? 0) + 1;
      else b.failed++;
    }
    for (const l of this.#losses) {
      const b = bucket(l.at);
      if (l.kind === 'session') b.sessionsLost += l.count;
      else b.itemsLost += l.count;
    }
    return buckets.map(({ latencies, ...b }) => ({
      ...b,
      p50Ms: usToMs(percentile(latencies, 50)),
      p99Ms: usToMs(percentile(latencies, 99)),
    }));
  }
}

function usToMs(us: number): number {
  return Math.round(us / 10) / 100;
}

function sortedByName(counts: Map<string, number>): Record<string, number> {
  return Object.fromEntries([...counts].sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true })));
}

/** The p-th percentile of values (nearest rank), 0 for none. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
