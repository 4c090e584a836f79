/**
 * Counters for `/metrics`, in the Prometheus text format
 * (https://prometheus.io/docs/instrumenting/exposition_formats/). Hand-written rather than a
 * client library: the hot path is a few integer increments, and the balancer has no dependency
 * beyond undici.
 */
import type { Backend } from './backend.js';
import type { LegacyAffinity } from './legacy.js';

/** Upper bounds of the latency histogram, in seconds. */
const buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

class ServerStats {
  readonly byStatus = new Map<number, number>();
  readonly bucketCounts = new Array<number>(buckets.length).fill(0);
  count = 0;
  sum = 0;
}

export class Metrics {
  readonly #servers = new Map<string, ServerStats>();
  readonly #errors = new Map<string, number>();
  retries = 0;
  retryBudgetExhausted = 0;
  /** Client connections open now (upgraded ones included). */
  clientConnections = 0;
  /** Connections closed at once because `limits.maxConnections` were open. */
  connectionsDropped = 0;

  #stats(id: string): ServerStats {
    let stats = this.#servers.get(id);
    if (!stats) {
      stats = new ServerStats();
      this.#servers.set(id, stats);
    }
    return stats;
  }

  /** One finished request: the status sent to the client and its latency. */
  observe(serverId: string, status: number, seconds: number): void {
    const stats = this.#stats(serverId);
    stats.byStatus.set(status, (stats.byStatus.get(status) ?? 0) + 1);
    stats.count++;
    stats.sum += seconds;
    for (let i = 0; i < buckets.length; i++) {
      if (seconds <= buckets[i]!) {
        stats.bucketCounts[i]!++;
        break;
      }
    }
  }

  error(serverId: string, code: string): void {
    const key = `${serverId}\u0000${code}`;
    this.#errors.set(key, (this.#errors.get(key) ?? 0) + 1);
  }

  /** The exposition text; `members` supplies the live gauges. */
  render(members: readonly Backend[], now: number, legacy?: LegacyAffinity): string {
    const lines: string[] = [];
    const head = (name: string, type: string, help: string) =>
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    head('unpinned_lb_requests_total', 'counter', 'Requests answered, by server and status code.');
    for (const [id, s] of this.#servers)
      for (const [code, n] of s.byStatus)
        lines.push(`unpinned_lb_requests_total{server="${esc(id)}",code="${code}"} ${n}`);
    head(
      'unpinned_lb_errors_total',
      'counter',
      'Requests that failed in the balancer, by server and error code.',
    );
    for (const [key, n] of this.#errors) {
      const [id, code] = key.split('\u0000');
      lines.push(`unpinned_lb_errors_total{server="${esc(id!)}",code="${code}"} ${n}`);
    }
    head('unpinned_lb_request_duration_seconds', 'histogram', 'Time from request to end of response.');
    for (const [id, s] of this.#servers) this.#histogram(lines, id, s);
    head('unpinned_lb_in_flight', 'gauge', 'Requests in flight per server.');
    for (const b of members) lines.push(`unpinned_lb_in_flight{server="${esc(b.id)}"} ${b.inFlight}`);
    head('unpinned_lb_tunnels', 'gauge', 'Upgraded connections (WebSocket) open per server.');
    for (const b of members) lines.push(`unpinned_lb_tunnels{server="${esc(b.id)}"} ${b.tunnels}`);
    head('unpinned_lb_server_up', 'gauge', '1 if the server takes balanced picks (up), else 0.');
    for (const b of members)
      lines.push(
        `unpinned_lb_server_up{server="${esc(b.id)}",state="${b.state(now)}"} ${b.isAvailable(now) ? 1 : 0}`,
      );
    head('unpinned_lb_ejections_total', 'counter', 'Passive ejections per server.');
    for (const b of members) lines.push(`unpinned_lb_ejections_total{server="${esc(b.id)}"} ${b.ejections}`);
    head('unpinned_lb_retries_total', 'counter', 'Attempts retried on another server.');
    lines.push(`unpinned_lb_retries_total ${this.retries}`);
    head(
      'unpinned_lb_retry_budget_exhausted_total',
      'counter',
      'Retries refused because the retry budget was spent.',
    );
    lines.push(`unpinned_lb_retry_budget_exhausted_total ${this.retryBudgetExhausted}`);
    head('unpinned_lb_client_connections', 'gauge', 'Client connections open now, upgraded ones included.');
    lines.push(`unpinned_lb_client_connections ${this.clientConnections}`);
    head(
      'unpinned_lb_connections_dropped_total',
      'counter',
      'Client connections closed on arrival because limits.maxConnections were open.',
    );
    lines.push(`unpinned_lb_connections_dropped_total ${this.connectionsDropped}`);
    if (legacy) this.#legacy(lines, head, members, legacy);
    return `${lines.join('\n')}\n`;
  }

  #legacy(
    lines: string[],
    head: (name: string, type: string, help: string) => void,
    members: readonly Backend[],
    legacy: LegacyAffinity,
  ): void {
    head('unpinned_lb_legacy_sessions', 'gauge', 'Live legacy sessions bound to each retiring server.');
    for (const b of members)
      if (b.retiring)
        lines.push(`unpinned_lb_legacy_sessions{server="${esc(b.id)}"} ${legacy.sessionsOf(b)}`);
    head(
      'unpinned_lb_legacy_sessions_forced_out_total',
      'counter',
      'Legacy sessions still bound to a server when its retirement cap removed it.',
    );
    for (const [id, n] of legacy.forcedOutCounts())
      lines.push(`unpinned_lb_legacy_sessions_forced_out_total{server="${esc(id)}"} ${n}`);
    const table = legacy.snapshot();
    head('unpinned_lb_legacy_table_entries', 'gauge', 'Entries in the learned legacy-session table.');
    lines.push(`unpinned_lb_legacy_table_entries ${table.entries}`);
    head(
      'unpinned_lb_legacy_table_evictions_total',
      'counter',
      'Learned legacy sessions evicted because the table was full (legacy.maxEntries).',
    );
    lines.push(`unpinned_lb_legacy_table_evictions_total ${table.evicted}`);
  }

  #histogram(lines: string[], id: string, s: ServerStats): void {
    let cumulative = 0;
    const label = `server="${esc(id)}"`;
    for (let i = 0; i < buckets.length; i++) {
      cumulative += s.bucketCounts[i]!;
      lines.push(`unpinned_lb_request_duration_seconds_bucket{${label},le="${buckets[i]}"} ${cumulative}`);
    }
    lines.push(`unpinned_lb_request_duration_seconds_bucket{${label},le="+Inf"} ${s.count}`);
    lines.push(`unpinned_lb_request_duration_seconds_sum{${label}} ${s.sum}`);
    lines.push(`unpinned_lb_request_duration_seconds_count{${label}} ${s.count}`);
  }
}

/** Label values escape backslash, quote and newline (exposition format §"Text format details"). */
function esc(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
