/**
 * Samples the running system once a second into snapshots: each server's state, requests per
 * second, in-flight requests and latency percentiles, the store's health and session count, the
 * strategy, and the synthetic traffic's tally. It keeps the last minutes so a page opened late
 * still draws its charts, and hands each new snapshot to whoever listens (the `/events` stream).
 */
import type { System, SystemStatus } from '../system/supervisor.js';
import {
  type Histograms,
  type Percentiles,
  parseHistograms,
  sumHistograms,
  windowPercentiles,
} from './latency.js';
import { probeRedis, type StoreProbe } from './store-probe.js';
import type { TrafficStats } from './traffic.js';

export interface ServerSample extends Percentiles {
  name: string;
  state: string;
  inFlight: number;
  /** Live subscribers: event streams and WebSocket connections open through the balancer. */
  live: number;
  requests: number;
  failures: number;
  /** Requests per second over the last interval. */
  rps: number;
  /** While it retires (`migrate`): the sessions still bound to it. */
  legacySessions?: number;
}

export interface Snapshot {
  t: number;
  sticky: boolean;
  /** The move off sticky sessions, once started. */
  migration: SystemStatus['migration'];
  strategy: string;
  balancer: string;
  store: { kind: string; url: string | null; running: boolean } & StoreProbe;
  servers: ServerSample[];
  total: Percentiles & { rps: number; inFlight: number; live: number };
  traffic: TrafficStats | null;
}

export interface MonitorOptions {
  intervalMs?: number;
  /** Snapshots kept (default 180: three minutes at one a second). */
  keep?: number;
  /** Latency window, in samples (default 5). */
  latencyWindow?: number;
  traffic?: () => TrafficStats | null;
}

export class Monitor {
  readonly history: Snapshot[] = [];
  readonly #system: System;
  readonly #options: Required<Omit<MonitorOptions, 'traffic'>> & Pick<MonitorOptions, 'traffic'>;
  readonly #listeners = new Set<(s: Snapshot) => void>();
  readonly #scrapes: Histograms[] = [];
  #last: { at: number; requests: Map<string, number> } | null = null;
  #timer: NodeJS.Timeout | null = null;
  #busy = false;

  constructor(system: System, options: MonitorOptions = {}) {
    this.#system = system;
    this.#options = { intervalMs: 1000, keep: 180, latencyWindow: 5, ...options };
  }

  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.sample(), this.#options.intervalMs);
    this.#timer.unref();
    void this.sample();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.#listeners.clear();
  }

  /** Calls `listener` with every new snapshot; returns the unsubscribe function. */
  subscribe(listener: (s: Snapshot) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Take one snapshot now (the timer calls this; a slow store probe never overlaps the next). */
  async sample(): Promise<Snapshot | null> {
    if (this.#busy) return null;
    this.#busy = true;
    try {
      const snapshot = await this.#take();
      if (!snapshot) return null;
      this.history.push(snapshot);
      if (this.history.length > this.#options.keep) this.history.shift();
      for (const listener of this.#listeners) listener(snapshot);
      return snapshot;
    } finally {
      this.#busy = false;
    }
  }

  async #take(): Promise<Snapshot | null> {
    let status: ReturnType<System['status']>;
    let metrics: string;
    try {
      status = this.#system.status();
      metrics = await this.#system.balancer.metrics();
    } catch {
      return null; // stopping: nothing to sample
    }
    const store = await this.#probeStore(status.store);
    const now = Date.now();
    const scrape = parseHistograms(metrics);
    this.#scrapes.push(scrape);
    if (this.#scrapes.length > this.#options.latencyWindow + 1) this.#scrapes.shift();
    const oldest = this.#scrapes[0]!;
    const seconds = this.#last ? (now - this.#last.at) / 1000 : 0;
    const rate = (name: string, requests: number) => {
      const before = this.#last?.requests.get(name);
      return before === undefined || seconds <= 0 ? 0 : Math.max(0, requests - before) / seconds;
    };
    const servers = status.servers.map((s) => ({
      name: s.name,
      state: s.state,
      inFlight: s.inFlight,
      live: s.live,
      requests: s.requests,
      failures: s.failures,
      ...(s.legacySessions !== undefined ? { legacySessions: s.legacySessions } : {}),
      rps: rate(s.name, s.requests),
      ...windowPercentiles(oldest.get(s.name), scrape.get(s.name)),
    }));
    this.#last = { at: now, requests: new Map(status.servers.map((s) => [s.name, s.requests])) };
    return {
      t: now,
      sticky: status.sticky,
      migration: status.migration,
      strategy: status.balancer.strategy,
      balancer: status.balancer.url,
      store,
      servers,
      total: {
        rps: servers.reduce((n, s) => n + s.rps, 0),
        inFlight: servers.reduce((n, s) => n + s.inFlight, 0),
        live: servers.reduce((n, s) => n + s.live, 0),
        ...windowPercentiles(sumHistograms(oldest), sumHistograms(scrape)),
      },
      traffic: this.#options.traffic?.() ?? null,
    };
  }

  async #probeStore(store: ReturnType<System['status']>['store']): Promise<Snapshot['store']> {
    const base = { kind: store.kind, url: store.url, running: store.up };
    if (store.kind !== 'redis' || !store.url) {
      // In-memory sessions live inside each app server; nothing outside can count them.
      return { ...base, up: store.up, ms: null, sessions: null, keys: null, exact: false };
    }
    // Exact counting (KEYS) only on the private Redis this system runs; never block a shared one.
    const own = store.pid !== null;
    // status() masks the password; the probe needs the real address.
    const url = this.#system.storeUrl ?? store.url;
    return { ...base, ...(await probeRedis({ url, exactUpTo: own ? 2000 : 0 })) };
  }
}
