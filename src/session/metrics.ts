/**
 * Session metrics (DESIGN §3.14, docs/observability.md). Counters are plain integer fields:
 * incrementing one costs nothing measurable on the hot path. The store round-trip time per
 * operation and the session size are hand-bucketed histograms. prom-client renders them all
 * when scraped (`prometheus()`, or the app's registry after `register(registry)`), and the
 * app's OpenTelemetry meter sees them under the same names when it has one.
 */
import { type FastHistogram, type HistogramSeries, MetricSet } from '../observe/metric-set.js';

/** Store round trips, in seconds: loopback Redis is ~50 µs, a remote one a few ms. */
const storeBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
/** Session sizes, in bytes, up to the default `maxSessionBytes` (65 536). */
const byteBuckets = [64, 256, 1024, 4096, 16_384, 65_536, 262_144];

const help: Record<string, string> = {
  loads: 'Store reads issued.',
  hits: 'Reads that found a live session.',
  misses: 'Reads that found nothing, an expired session or unreadable metadata.',
  creates: 'Sessions created.',
  writes: 'Delta writes (commits, atomic updates and increments).',
  touches: 'Idle-window refreshes sent.',
  touchesSkipped: 'Reads whose refresh was not yet due (no write sent).',
  conflictsRetried: 'Compare-and-set attempts of update() that lost a race and retried.',
  resurrectionsBlocked: 'Writes refused because the session was destroyed meanwhile (logout stuck).',
  storeErrors: 'Store calls that failed or passed their deadline.',
  destroys: 'Sessions destroyed (logout, revoke).',
  regenerations: 'Tokens reissued (regenerate, login).',
  corruptValues: 'Stored values that were not valid JSON and were ignored.',
  tooLarge: 'Writes refused for exceeding maxSessionBytes.',
};

export class SessionMetrics {
  /** Store reads issued. */
  loads = 0;
  /** Reads that found a live session. */
  hits = 0;
  /** Reads that found nothing, an expired session or unreadable metadata. */
  misses = 0;
  /** Sessions created. */
  creates = 0;
  /** Delta writes (commits, atomic updates and increments). */
  writes = 0;
  /** Idle-window refreshes sent. */
  touches = 0;
  /** Requests that read a session whose refresh was not yet due (no write sent). */
  touchesSkipped = 0;
  /** Compare-and-set attempts of `update()` that lost a race and retried. */
  conflictsRetried = 0;
  /** Writes refused because the session was destroyed meanwhile (logout stuck). */
  resurrectionsBlocked = 0;
  /** Store calls that failed or passed their deadline. */
  storeErrors = 0;
  destroys = 0;
  regenerations = 0;
  /** Stored values that were not valid JSON and were ignored. */
  corruptValues = 0;
  /** Writes refused for exceeding `maxSessionBytes`. */
  tooLarge = 0;

  readonly #set = new MetricSet('unpinned.session');
  readonly #storeSeconds: FastHistogram;
  readonly #byOperation = new Map<string, HistogramSeries>();
  readonly #bytes: HistogramSeries;
  readonly #store: string;

  constructor(storeName = 'unknown') {
    this.#store = storeName;
    for (const field of Object.keys(help)) {
      this.#set.counter(`unpinned_session_${snake(field)}_total`, help[field]!, () => this.#read(field));
    }
    this.#storeSeconds = this.#set.histogram(
      'unpinned_session_store_duration_seconds',
      'Store round-trip time, by store and operation (load, create, commit, update, increment, touch, destroy, ...).',
      ['store', 'operation'],
      storeBuckets,
    );
    this.#bytes = this.#set
      .histogram(
        'unpinned_session_bytes',
        'Size of sessions read (keys plus JSON values), in bytes.',
        ['store'],
        byteBuckets,
      )
      .series(storeName);
  }

  #read(field: string): number {
    return (this as unknown as Record<string, number>)[field]!;
  }

  /** Records one store call of `operation` that took `seconds` (failed ones included). */
  storeCall(operation: string, seconds: number): void {
    let series = this.#byOperation.get(operation);
    if (!series) {
      series = this.#storeSeconds.series(this.#store, operation);
      this.#byOperation.set(operation, series);
    }
    series.observe(seconds);
  }

  /** Records the size of a session read from the store. */
  sessionBytes(bytes: number): void {
    this.#bytes.observe(bytes);
  }

  snapshot(): Record<string, number> {
    return { ...(this as unknown as Record<string, number>) };
  }

  /** Prometheus text exposition format, rendered by prom-client. */
  prometheus(): Promise<string> {
    return this.#set.text();
  }

  /** Adds these metrics to an app's prom-client `Registry`. */
  register(registry: Parameters<MetricSet['register']>[0]): void {
    this.#set.register(registry);
  }
}

function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
