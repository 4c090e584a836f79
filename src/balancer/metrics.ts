/**
 * The balancer's metrics (Prometheus names, docs/observability.md). The request path only
 * increments plain numbers and hand-bucketed histogram series (a few ns); prom-client renders
 * them when `/metrics` is scraped, and `register(registry)` puts them into an app's own
 * registry. Why not prom-client's `inc()`/`observe()` per request: src/observe/metric-set.ts.
 */
import { type HistogramSeries, type Labels, MetricSet } from '../observe/metric-set.js';
import type { Backend } from './backend.js';
import type { LegacyAffinity } from './legacy.js';

/** Upper bounds of the latency histogram, in seconds. */
const buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Attempts a request took (1 = no retry). */
const attemptBuckets = [1, 2, 3, 4, 5];

class ServerStats {
  readonly byStatus = new Map<number, number>();
  constructor(
    readonly duration: HistogramSeries,
    readonly attempts: HistogramSeries,
  ) {}
}

export class Metrics {
  readonly #servers = new Map<string, ServerStats>();
  readonly #errors = new Map<string, number>();
  readonly #set = new MetricSet('unpinned.balancer');
  readonly #duration = this.#set.histogram(
    'unpinned_lb_request_duration_seconds',
    'Time from request to end of response, by server.',
    ['server'],
    buckets,
  );
  readonly #attempts = this.#set.histogram(
    'unpinned_lb_request_attempts',
    'Servers tried per request (1 = answered by the first pick; more = retried).',
    ['server'],
    attemptBuckets,
  );
  retries = 0;
  retryBudgetExhausted = 0;
  /** Client connections open now (upgraded ones included). */
  clientConnections = 0;
  /** Connections closed at once because `limits.maxConnections` were open. */
  connectionsDropped = 0;

  constructor(members: () => readonly Backend[], now: () => number, legacy?: LegacyAffinity) {
    const set = this.#set;
    const perServer = (value: (b: Backend) => number) => () =>
      members().map((b) => [{ server: b.id }, value(b)] as const);
    set.counter(
      'unpinned_lb_requests_total',
      'Requests answered, by server and status code.',
      () => this.#requests(),
      ['server', 'code'],
    );
    set.counter(
      'unpinned_lb_errors_total',
      'Requests that failed in the balancer, by server and error code.',
      () => this.#errorReadings(),
      ['server', 'code'],
    );
    set.gauge(
      'unpinned_lb_in_flight',
      'Requests in flight per server.',
      perServer((b) => b.inFlight),
      ['server'],
    );
    set.gauge(
      'unpinned_lb_long_lived_connections',
      'Long-lived connections open per server: WebSocket tunnels and event streams (live subscribers).',
      perServer((b) => b.longLived.size),
      ['server'],
    );
    set.gauge(
      'unpinned_lb_tunnels',
      'Upgraded connections (WebSocket) open per server.',
      perServer((b) => b.tunnels),
      ['server'],
    );
    set.gauge(
      'unpinned_lb_server_up',
      '1 if the server takes balanced picks (up), else 0.',
      () => {
        const t = now();
        return members().map((b) => [{ server: b.id, state: b.state(t) }, b.isAvailable(t) ? 1 : 0] as const);
      },
      ['server', 'state'],
    );
    set.counter(
      'unpinned_lb_ejections_total',
      'Passive ejections per server.',
      perServer((b) => b.ejections),
      ['server'],
    );
    set.counter('unpinned_lb_retries_total', 'Attempts retried on another server.', () => this.retries);
    set.counter(
      'unpinned_lb_retry_budget_exhausted_total',
      'Retries refused because the retry budget was spent.',
      () => this.retryBudgetExhausted,
    );
    set.gauge(
      'unpinned_lb_client_connections',
      'Client connections open now, upgraded ones included.',
      () => this.clientConnections,
    );
    set.counter(
      'unpinned_lb_connections_dropped_total',
      'Client connections closed on arrival because limits.maxConnections were open.',
      () => this.connectionsDropped,
    );
    if (legacy) this.#legacy(set, members, legacy);
  }

  #legacy(set: MetricSet, members: () => readonly Backend[], legacy: LegacyAffinity): void {
    set.gauge(
      'unpinned_lb_legacy_sessions',
      'Live legacy sessions bound to each retiring server.',
      () =>
        members()
          .filter((b) => b.retiring)
          .map((b) => [{ server: b.id }, legacy.sessionsOf(b)] as const),
      ['server'],
    );
    set.counter(
      'unpinned_lb_legacy_sessions_forced_out_total',
      'Legacy sessions still bound to a server when its retirement cap removed it.',
      () => [...legacy.forcedOutCounts()].map(([server, n]) => [{ server }, n] as const),
      ['server'],
    );
    set.gauge(
      'unpinned_lb_legacy_table_entries',
      'Entries in the learned legacy-session table.',
      () => legacy.snapshot().entries,
    );
    set.counter(
      'unpinned_lb_legacy_table_evictions_total',
      'Learned legacy sessions evicted because the table was full (legacy.maxEntries).',
      () => legacy.snapshot().evicted,
    );
  }

  #stats(id: string): ServerStats {
    let stats = this.#servers.get(id);
    if (!stats) {
      stats = new ServerStats(this.#duration.series(id), this.#attempts.series(id));
      this.#servers.set(id, stats);
    }
    return stats;
  }

  /** One finished request: the status sent to the client, its latency and the servers tried. */
  observe(serverId: string, status: number, seconds: number, attempts = 1): void {
    const stats = this.#stats(serverId);
    stats.byStatus.set(status, (stats.byStatus.get(status) ?? 0) + 1);
    stats.duration.observe(seconds);
    stats.attempts.observe(attempts);
  }

  error(serverId: string, code: string): void {
    const key = `${serverId}\u0000${code}`;
    this.#errors.set(key, (this.#errors.get(key) ?? 0) + 1);
  }

  *#requests(): Iterable<readonly [Labels, number]> {
    for (const [server, s] of this.#servers)
      for (const [code, n] of s.byStatus) yield [{ server, code: String(code) }, n];
  }

  *#errorReadings(): Iterable<readonly [Labels, number]> {
    for (const [key, n] of this.#errors) {
      const [server, code] = key.split('\u0000') as [string, string];
      yield [{ server, code }, n];
    }
  }

  /** The exposition text (prom-client's), as served on the admin API's `/metrics`. */
  text(): Promise<string> {
    return this.#set.text();
  }

  /** Adds the balancer's metrics to an app's prom-client registry. */
  register(registry: Parameters<MetricSet['register']>[0]): void {
    this.#set.register(registry);
  }
}
