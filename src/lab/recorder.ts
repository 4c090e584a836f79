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
}

interface Bucket {
  perServer: Map<string, number>;
  failed: number;
  sessionsLost: number;
  itemsLost: number;
  latencies: number[];
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
  readonly #start: number;
  readonly #bucketMs: number;
  readonly #histogram = newHistogram();
  readonly #perServer = new Map<string, number>();
  readonly #buckets: Bucket[] = [];
  #requests = 0;
  #failed = 0;
  #sessionsLost = 0;
  #itemsLost = 0;
  #lastFailureAt: number | null = null;

  constructor(start: number, bucketMs: number) {
    this.#start = start;
    this.#bucketMs = bucketMs;
  }

  /** Milliseconds since the run began. */
  elapsed(at = performance.now()): number {
    return at - this.#start;
  }

  /** Cheap running totals, for progress bars. */
  counts(): { requests: number; sessionsLost: number } {
    return { requests: this.#requests, sessionsLost: this.#sessionsLost };
  }

  get lastFailureMs(): number | null {
    return this.#lastFailureAt === null ? null : this.elapsed(this.#lastFailureAt);
  }

  request(record: RequestRecord): void {
    this.#requests++;
    this.#histogram.recordValue(record.latencyUs);
    const bucket = this.#bucket(record.at);
    bucket.latencies.push(record.latencyUs);
    if (!record.ok || record.server === null) {
      this.#failed++;
      bucket.failed++;
      this.#lastFailureAt = record.at;
      return;
    }
    this.#perServer.set(record.server, (this.#perServer.get(record.server) ?? 0) + 1);
    bucket.perServer.set(record.server, (bucket.perServer.get(record.server) ?? 0) + 1);
  }

  loss(kind: 'session' | 'items', count: number, at: number): void {
    const bucket = this.#bucket(at);
    if (kind === 'session') {
      this.#sessionsLost += count;
      bucket.sessionsLost += count;
    } else {
      this.#itemsLost += count;
      bucket.itemsLost += count;
    }
  }

  #bucket(at: number): Bucket {
    const index = Math.max(0, Math.floor(this.elapsed(at) / this.#bucketMs));
    while (this.#buckets.length <= index) {
      this.#buckets.push({ perServer: new Map(), failed: 0, sessionsLost: 0, itemsLost: 0, latencies: [] });
    }
    return this.#buckets[index]!;
  }

  result(): RecordedRun {
    const h = this.#histogram;
    const ms = (us: number) => Math.round(us / 10) / 100;
    const counts = [...this.#perServer.values()];
    const mean = counts.reduce((a, b) => a + b, 0) / (counts.length || 1);
    return {
      requests: this.#requests,
      failedRequests: this.#failed,
      sessionsLost: this.#sessionsLost,
      itemsLost: this.#itemsLost,
      p50Ms: ms(h.getValueAtPercentile(50)),
      p90Ms: ms(h.getValueAtPercentile(90)),
      p99Ms: ms(h.getValueAtPercentile(99)),
      maxMs: ms(h.maxValue),
      perServer: Object.fromEntries(
        [...this.#perServer].sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true })),
      ),
      imbalance: counts.length ? round2(Math.max(...counts) / mean) : 0,
      timeline: this.#buckets.map((b, i) => ({
        t: i * this.#bucketMs,
        perServer: Object.fromEntries(b.perServer),
        failed: b.failed,
        sessionsLost: b.sessionsLost,
        itemsLost: b.itemsLost,
        p50Ms: ms(percentile(b.latencies, 50)),
        p99Ms: ms(percentile(b.latencies, 99)),
      })),
    };
  }
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
