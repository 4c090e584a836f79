/**
 * One upstream server: its keep-alive pool and the counters the strategies read. A pool per
 * server (as undici's BalancedPool layers it); the state (health, drain, ejection) lives here so
 * that strategies stay one `pick()` each.
 */

import { createHash } from 'node:crypto';
import { invalidOption } from './errors.js';
import type { LongLived } from './long-lived.js';
import { type PoolOptions, UpstreamPool } from './upstream/pool.js';

/** The state a server is in, as the admin API and `backends()` report it. */
export type BackendState = 'up' | 'down' | 'ejected' | 'draining' | 'retiring';

/** A server to balance over: a URL, and an optional stable id (defaults to `host:port`). */
export interface BackendSpec {
  url: string;
  id?: string;
  /**
   * Start drained: the server is known but takes no balanced picks until `undrain()`. For a
   * server that is still starting (HAProxy adds run-time servers in maintenance mode likewise).
   */
  draining?: boolean;
}

/** What `balancer.backends()` returns for each server: a copy, safe to keep. */
export interface BackendSnapshot {
  id: string;
  url: string;
  state: BackendState;
  healthy: boolean;
  draining: boolean;
  /** Takes only the requests of the legacy sessions bound to it (legacy.ts). */
  retiring: boolean;
  /** Live legacy sessions bound to it while retiring, else 0. */
  legacySessions: number;
  ejected: boolean;
  inFlight: number;
  tunnels: number;
  /** Its long-lived connections now: WebSocket tunnels and event streams (live subscribers). */
  longLived: number;
  requests: number;
  failures: number;
  ejections: number;
}

/** How a server's connection pool is set up (from the balancer's timeouts and limits). */
export type PoolSettings = PoolOptions;

export class Backend {
  readonly id: string;
  readonly url: string;
  readonly origin: string;
  /** Value of the sticky cookie that pins a client to this server: a hash, so it reveals no address. */
  readonly cookieValue: string;
  readonly pool: UpstreamPool;
  /** Position in configuration order, set by the member base (ring order for strategies). */
  seq = -1;
  /** Active health-check verdict (rise/fall). */
  healthy = true;
  draining: boolean;
  /** Retiring (legacy.ts): no balanced picks; only requests bound to it by a legacy session. */
  retiring = false;
  /** Passive ejection: the server takes no balanced picks until this clock time. */
  ejectedUntil = 0;
  /**
   * The last connection attempt to it failed before connecting (refused, or no answer within
   * the connect timeout): nothing is listening. Panic mode leaves such servers out (members.ts).
   */
  unreachable = false;
  consecutiveFailures = 0;
  inFlight = 0;
  tunnels = 0;
  /** Its open WebSocket tunnels and event streams, which a drain ends gracefully after a deadline. */
  readonly longLived = new Set<LongLived>();
  requests = 0;
  failures = 0;
  ejections = 0;
  /** Called when in-flight drops to zero; used to resolve `drain()` promises. */
  onIdle: (() => void) | undefined;

  constructor(spec: BackendSpec, settings: PoolSettings) {
    const parsed = parseBackendUrl(spec.url);
    this.origin = parsed.origin;
    this.url = parsed.origin;
    this.id = spec.id ?? parsed.host;
    this.draining = spec.draining ?? false;
    this.cookieValue = createHash('sha256').update(this.id).digest('base64url').slice(0, 12);
    this.pool = new UpstreamPool(this.origin, settings);
  }

  isEjected(now: number): boolean {
    return this.ejectedUntil > now;
  }

  /** Up for balanced picks: healthy, not ejected, not draining, not retiring. */
  isAvailable(now: number): boolean {
    return this.healthy && !this.draining && !this.retiring && this.ejectedUntil <= now;
  }

  state(now: number): BackendState {
    if (this.draining) return 'draining';
    if (this.retiring) return 'retiring';
    if (!this.healthy) return 'down';
    if (this.isEjected(now)) return 'ejected';
    return 'up';
  }

  begin(): void {
    this.inFlight++;
    this.requests++;
  }

  end(): void {
    this.inFlight--;
    if (this.inFlight === 0 && this.tunnels === 0) this.onIdle?.();
  }

  snapshot(now: number, legacySessions = 0): BackendSnapshot {
    return {
      id: this.id,
      url: this.url,
      state: this.state(now),
      healthy: this.healthy,
      draining: this.draining,
      retiring: this.retiring,
      legacySessions,
      ejected: this.isEjected(now),
      inFlight: this.inFlight,
      tunnels: this.tunnels,
      longLived: this.longLived.size,
      requests: this.requests,
      failures: this.failures,
      ejections: this.ejections,
    };
  }
}

function parseBackendUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalidOption('backends[].url', 'an absolute http:// URL such as http://127.0.0.1:3001', raw);
  }
  // Servers are reached over plain HTTP/1.1 (a private network, as HAProxy's and nginx's usual
  // `server` lines); TLS to servers is not supported.
  if (url.protocol !== 'http:' || url.pathname !== '/' || url.search !== '' || url.username !== '') {
    throw invalidOption(
      'backends[].url',
      'an http:// URL with host and port only, such as http://127.0.0.1:3001',
      raw,
    );
  }
  return url;
}
