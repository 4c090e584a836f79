/**
 * Bounded synthetic traffic for the dashboard: N customers shop through the balancer, each at its
 * own pace, until a request budget, a time limit or a stop, whichever comes first: it always
 * stops by itself.
 *
 * Skew models heavy users: customer i gets a share of the traffic proportional to
 * 1 / (i + 1)^(2 × skew). At skew 0 every customer is equally busy; at skew 1 the busiest makes
 * about 60% of the requests (a Zipf law with exponent 2), which is what pins one server under
 * sticky routing.
 */
import { setMaxListeners } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { SystemError } from '../system/errors.js';
import { Customer, type CustomerTally } from './customer.js';

export interface TrafficOptions {
  users: number;
  /** 0 (even) to 1 (a few users make most requests). */
  skew: number;
  /** Target requests per second over all users. */
  rate: number;
  /** Stops after this many requests… */
  maxRequests: number;
  /** …or after this many seconds. */
  seconds: number;
}

export interface TrafficStats extends CustomerTally, TrafficOptions {
  running: boolean;
  startedAt: number;
  endedAt: number | null;
  /** Why it stopped: 'requests', 'time' or 'stopped'. */
  reason: string | null;
}

const limits = {
  users: [1, 500],
  skew: [0, 1],
  rate: [1, 2000],
  maxRequests: [1, 1_000_000],
  seconds: [1, 3600],
} as const;
const defaults: TrafficOptions = { users: 20, skew: 0, rate: 50, maxRequests: 20_000, seconds: 120 };

/** Traffic options from a control request body; throws `UNPINNED_ERR_INVALID_OPTION` (400). */
export function trafficOptions(body: Record<string, unknown>): TrafficOptions {
  const options = { ...defaults };
  for (const key of Object.keys(limits) as (keyof TrafficOptions)[]) {
    if (body[key] === undefined) continue;
    const value = Number(body[key]);
    const [min, max] = limits[key];
    if (!Number.isFinite(value) || value < min || value > max || (key !== 'skew' && !Number.isInteger(value)))
      throw new SystemError(
        'UNPINNED_ERR_INVALID_OPTION',
        `traffic ${key} must be ${key === 'skew' ? 'a number' : 'an integer'} from ${min} to ${max}, got ${String(body[key])}.`,
        { statusCode: 400 },
      );
    options[key] = value;
  }
  return options;
}

/** Each user's share of the requests: proportional to 1 / (i + 1)^(2 × skew), adding up to 1. */
export function trafficShares(users: number, skew: number): number[] {
  const weights = Array.from({ length: users }, (_, i) => 1 / (i + 1) ** (2 * skew));
  const total = weights.reduce((a, b) => a + b, 0);
  return weights.map((w) => w / total);
}

export class Traffic {
  readonly stats: TrafficStats;
  readonly done: Promise<void>;
  readonly #abort = new AbortController();

  constructor(base: string, options: TrafficOptions) {
    this.stats = {
      ...options,
      requests: 0,
      failed: 0,
      sessionsLost: 0,
      itemsLost: 0,
      running: true,
      startedAt: Date.now(),
      endedAt: null,
      reason: null,
    };
    // Every request in flight listens to the stop signal: one listener per user.
    setMaxListeners(options.users + 10, this.#abort.signal);
    // Users get distinct names per run, so a new run never inherits an old run's carts.
    const run = this.stats.startedAt.toString(36);
    const customers = trafficShares(options.users, options.skew).map((share, i) => ({
      customer: new Customer(base, `load-${run}-${i + 1}`, this.stats),
      intervalMs: 1000 / (options.rate * share),
    }));
    const timer = setTimeout(() => this.#finish('time'), options.seconds * 1000);
    this.done = Promise.all(customers.map((c) => this.#run(c.customer, c.intervalMs))).then(() => {
      clearTimeout(timer);
      this.#finish('requests');
    });
  }

  /** A copy of the tally, safe to keep. */
  snapshot(): TrafficStats {
    return { ...this.stats };
  }

  stop(): Promise<void> {
    this.#finish('stopped');
    return this.done;
  }

  #finish(reason: string): void {
    if (!this.stats.running) return;
    this.stats.running = false;
    this.stats.reason = reason;
    this.stats.endedAt = Date.now();
    this.#abort.abort();
  }

  async #run(customer: Customer, intervalMs: number): Promise<void> {
    const signal = this.#abort.signal;
    // Spread the first requests over one interval, so N users do not start in one burst.
    let next = performance.now() + Math.random() * Math.min(intervalMs, 1000);
    while (!signal.aborted && this.stats.requests < this.stats.maxRequests) {
      const wait = next - performance.now();
      if (wait > 0) await delay(wait, undefined, { signal }).catch(() => {});
      if (signal.aborted || this.stats.requests >= this.stats.maxRequests) break;
      next = Math.max(next + intervalMs, performance.now());
      await customer.step(signal);
    }
  }
}
