/**
 * Options, their defaults and their validation, done once at start-up so the request path reads
 * plain numbers. Defaults follow the reference balancers where they agree:
 * - health checks every 2 s, up after 2 passes, down after 3 failures (HAProxy `inter 2s rise 2
 *   fall 3`); off unless a path is given, as HAProxy checks only servers marked `check`;
 * - passive ejection after 5 consecutive failures for 30 s (Envoy outlier detection
 *   `consecutive_5xx: 5`, `base_ejection_time: 30s`), at most 50% of the servers ejected;
 * - panic threshold 50% (Envoy `healthy_panic_threshold`);
 * - 3 attempts per request (HAProxy `retries 3`), retry budget 20% with a floor of 3 (Envoy);
 * - connect timeout 5 s, response headers and idle 60 s (nginx `proxy_read_timeout 60s`);
 * - a client that takes no response bytes, or sends no body bytes, for 60 s is cut off (nginx
 *   `send_timeout`, `client_body_timeout`); a whole request within 300 s (Node's
 *   `requestTimeout`); a WebSocket tunnel idle for 1 h is closed (HAProxy `timeout tunnel 1h`,
 *   the value its documentation gives);
 * - 10,000 client connections at once (HAProxy derives `maxconn` from the file limit; this is
 *   a fixed default that fits the usual 20k+ limits, with a server connection per client);
 * - request headers up to 16 KiB (Node's default) and 101 header fields (HAProxy
 *   `tune.http.maxhdr`), no body limit unless set.
 */
import type { Logger } from '../observe/log.js';
import type { BackendSpec } from './backend.js';
import { isLoopbackAddress } from './browser-guard.js';
import { type Clock, type RandomSource, systemClock } from './clock.js';
import { invalidOption } from './errors.js';
import type { LegacySettings } from './legacy.js';
import { type StrategyName, strategyNames } from './strategies/strategy.js';

export interface HealthCheckOptions {
  /** Path to GET; 2xx and 3xx count as passing. */
  path: string;
  intervalMs?: number;
  timeoutMs?: number;
  rise?: number;
  fall?: number;
}

export interface BalancerOptions {
  backends?: readonly (string | BackendSpec)[];
  /** Where ejections, drains and server changes are logged: pino's shape (src/observe/log.ts). */
  logger?: Logger;
  strategy?: StrategyName;
  /** Active checks; omitted or `false` means none. */
  healthCheck?: HealthCheckOptions | false;
  /** Passive ejection; `false` turns it off. */
  passive?: { consecutiveFailures?: number; cooldownMs?: number; maxEjectionPercent?: number } | false;
  /** Below this share of available servers, picks ignore health (0 turns it off). */
  panicThresholdPercent?: number;
  retry?: {
    maxAttempts?: number;
    idempotent?: boolean;
    /**
     * Send an idempotent, bodiless request once more on a fresh connection when a reused
     * keep-alive connection was closed by the server without a byte of answer (on by default;
     * see retry.ts). `false` answers 502 instead.
     */
    staleConnections?: boolean;
    onStatus?: readonly number[];
    budgetPercent?: number;
    minConcurrency?: number;
  };
  timeouts?: {
    connectMs?: number;
    headersMs?: number;
    idleMs?: number;
    clientKeepAliveMs?: number;
    clientHeadersMs?: number;
    upstreamKeepAliveMs?: number;
    shutdownMs?: number;
    /** After one side of a WebSocket tunnel closes its end, how long the other side has to. */
    tunnelFinMs?: number;
    /** A WebSocket tunnel in which no byte moved either way for this long is closed. */
    tunnelIdleMs?: number;
    /**
     * A draining server's WebSocket tunnels and event streams are ended (close 1012, SSE
     * `retry:` then end of stream) this long after the drain began, so none holds a deploy.
     */
    drainLongLivedMs?: number;
    /** ...spread over this window, so their clients do not all reconnect at once. */
    drainWindowMs?: number;
    /** A client that takes none of a response for this long is cut off (nginx `send_timeout`). */
    clientSendMs?: number;
    /** A client that sends none of a request body for this long gets 408 (nginx `client_body_timeout`). */
    clientBodyMs?: number;
    /** A request (head and body) read by Node's server must arrive whole within this long. */
    clientRequestMs?: number;
  };
  limits?: {
    maxHeaderBytes?: number;
    /** Header fields a request may have; one more is answered 431, never cut silently. */
    maxHeaderCount?: number;
    /** Client connections open at once; more are closed as they arrive (null: no cap). */
    maxConnections?: number | null;
    maxBodyBytes?: number | null;
    connectionsPerBackend?: number | null;
  };
  /** Name of a response header that names the server (`true` = `x-served-by`); off by default. */
  servedByHeader?: string | boolean;
  /** Proxies whose X-Forwarded-* headers are believed (IPs or CIDRs). */
  trustedProxies?: readonly string[];
  /** Add X-Forwarded-For/-Proto/-Host (default true). */
  forwardedHeaders?: boolean;
  /** Cookie name of the sticky-cookie strategy (default `SRV`, as in HAProxy's docs). */
  stickyCookie?: string;
  /**
   * Legacy affinity, to retire servers that keep sessions in memory without logging anyone out
   * (legacy.ts). Retiring a server (`retire()`, the admin API) works without it; these say how.
   */
  legacy?: {
    /** The old app's session cookie (e.g. `connect.sid`), learned from its `Set-Cookie`. */
    cookie?: string;
    /** A HAProxy-style server cookie whose value is the server's id. */
    serverCookie?: string;
    /** A legacy session not seen for this long has ended: the old app's idle timeout (default 30 min). */
    idleMs?: number;
    /** Retire a server this long after it was marked, whatever its count (default: no cap). */
    retireAfterMs?: number | null;
    /** Entries the learned table holds at most (default 100,000; the least recently seen go first). */
    maxEntries?: number;
  };
  /**
   * Admin API; started by `listen()` when given. `host` defaults to 127.0.0.1; any other than a
   * loopback address needs a `token` (whoever reaches the API can route your users' traffic).
   */
  admin?: { port: number; host?: string; token?: string };
  clock?: Clock;
  random?: RandomSource;
}

export interface Settings {
  backends: BackendSpec[];
  strategy: StrategyName;
  healthCheck: Required<HealthCheckOptions> | undefined;
  consecutiveFailures: number;
  cooldownMs: number;
  maxEjectionPercent: number;
  panicThresholdPercent: number;
  retry: {
    maxAttempts: number;
    idempotent: boolean;
    staleConnections: boolean;
    onStatus: number[];
    budgetPercent: number;
    minConcurrency: number;
  };
  timeouts: Required<NonNullable<BalancerOptions['timeouts']>>;
  maxHeaderBytes: number;
  maxHeaderCount: number;
  maxConnections: number | null;
  maxBodyBytes: number | null;
  connectionsPerBackend: number | null;
  servedByHeader: string | undefined;
  trustedProxies: string[];
  forwardedHeaders: boolean;
  stickyCookie: string;
  legacy: LegacySettings;
  admin: { port: number; host: string; token: string | undefined } | undefined;
  clock: Clock;
  random: RandomSource;
}

/** Validates `options` and fills in defaults. Throws `UNPINNED_ERR_LB_INVALID_OPTION`. */
export function resolveSettings(options: BalancerOptions): Settings {
  const strategy = options.strategy ?? 'round-robin';
  if (!strategyNames.includes(strategy)) invalid('strategy', `one of ${strategyNames.join(', ')}`, strategy);
  const passive = options.passive === false ? undefined : (options.passive ?? {});
  const retry = options.retry ?? {};
  const t = options.timeouts ?? {};
  const limits = options.limits ?? {};
  const clientRequestMs = t.clientRequestMs ?? 300_000;
  // Node refuses a head deadline longer than the whole request's (both are Node's own timers).
  if (clientRequestMs > 0 && (t.clientHeadersMs ?? 30_000) > clientRequestMs)
    invalid(
      'timeouts.clientHeadersMs',
      `at most timeouts.clientRequestMs (${clientRequestMs})`,
      t.clientHeadersMs,
    );
  return {
    backends: (options.backends ?? []).map((b) => (typeof b === 'string' ? { url: b } : { ...b })),
    strategy,
    healthCheck: resolveHealth(options.healthCheck),
    consecutiveFailures: passive
      ? int('passive.consecutiveFailures', passive.consecutiveFailures ?? 5, 1)
      : 0,
    cooldownMs: int('passive.cooldownMs', passive?.cooldownMs ?? 30_000, 0),
    maxEjectionPercent: percent('passive.maxEjectionPercent', passive?.maxEjectionPercent ?? 50),
    panicThresholdPercent: percent('panicThresholdPercent', options.panicThresholdPercent ?? 50),
    retry: {
      maxAttempts: int('retry.maxAttempts', retry.maxAttempts ?? 3, 1),
      idempotent: retry.idempotent ?? false,
      staleConnections: retry.staleConnections ?? true,
      onStatus: [...(retry.onStatus ?? [502, 503, 504])],
      budgetPercent: percent('retry.budgetPercent', retry.budgetPercent ?? 20),
      minConcurrency: int('retry.minConcurrency', retry.minConcurrency ?? 3, 0),
    },
    timeouts: {
      connectMs: int('timeouts.connectMs', t.connectMs ?? 5_000, 1),
      headersMs: int('timeouts.headersMs', t.headersMs ?? 60_000, 1),
      idleMs: int('timeouts.idleMs', t.idleMs ?? 60_000, 1),
      clientKeepAliveMs: int('timeouts.clientKeepAliveMs', t.clientKeepAliveMs ?? 5_000, 1),
      clientHeadersMs: int('timeouts.clientHeadersMs', t.clientHeadersMs ?? 30_000, 1),
      upstreamKeepAliveMs: int('timeouts.upstreamKeepAliveMs', t.upstreamKeepAliveMs ?? 4_000, 1),
      shutdownMs: int('timeouts.shutdownMs', t.shutdownMs ?? 10_000, 0),
      tunnelFinMs: int('timeouts.tunnelFinMs', t.tunnelFinMs ?? 10_000, 1),
      tunnelIdleMs: int('timeouts.tunnelIdleMs', t.tunnelIdleMs ?? 3_600_000, 1),
      drainLongLivedMs: int('timeouts.drainLongLivedMs', t.drainLongLivedMs ?? 30_000, 0),
      drainWindowMs: int('timeouts.drainWindowMs', t.drainWindowMs ?? 5_000, 0),
      clientSendMs: int('timeouts.clientSendMs', t.clientSendMs ?? 60_000, 1),
      clientBodyMs: int('timeouts.clientBodyMs', t.clientBodyMs ?? 60_000, 1),
      clientRequestMs: int('timeouts.clientRequestMs', t.clientRequestMs ?? 300_000, 0),
    },
    maxHeaderBytes: int('limits.maxHeaderBytes', limits.maxHeaderBytes ?? 16_384, 1024),
    maxHeaderCount: int('limits.maxHeaderCount', limits.maxHeaderCount ?? 101, 1),
    maxConnections:
      limits.maxConnections === null
        ? null
        : int('limits.maxConnections', limits.maxConnections ?? 10_000, 1),
    maxBodyBytes: limits.maxBodyBytes == null ? null : int('limits.maxBodyBytes', limits.maxBodyBytes, 0),
    connectionsPerBackend:
      limits.connectionsPerBackend == null
        ? null
        : int('limits.connectionsPerBackend', limits.connectionsPerBackend, 1),
    servedByHeader: resolveServedBy(options.servedByHeader),
    trustedProxies: [...(options.trustedProxies ?? [])],
    forwardedHeaders: options.forwardedHeaders ?? true,
    stickyCookie: token('stickyCookie', options.stickyCookie ?? 'SRV'),
    legacy: resolveLegacy(options.legacy ?? {}, options.stickyCookie ?? 'SRV'),
    admin: options.admin && resolveAdmin(options.admin),
    clock: options.clock ?? systemClock,
    random: options.random ?? Math.random,
  };
}

function resolveHealth(h: BalancerOptions['healthCheck']): Settings['healthCheck'] {
  if (!h) return undefined;
  if (typeof h.path !== 'string' || !h.path.startsWith('/'))
    invalid('healthCheck.path', 'a path like /health', h.path);
  return {
    path: h.path,
    intervalMs: int('healthCheck.intervalMs', h.intervalMs ?? 2_000, 1),
    timeoutMs: int('healthCheck.timeoutMs', h.timeoutMs ?? 1_000, 1),
    rise: int('healthCheck.rise', h.rise ?? 2, 1),
    fall: int('healthCheck.fall', h.fall ?? 3, 1),
  };
}

function resolveLegacy(l: NonNullable<BalancerOptions['legacy']>, pinCookie: string): LegacySettings {
  const cap = l.retireAfterMs ?? null;
  return {
    cookie: l.cookie === undefined ? undefined : token('legacy.cookie', l.cookie),
    serverCookie: l.serverCookie === undefined ? undefined : token('legacy.serverCookie', l.serverCookie),
    pinCookie,
    idleMs: int('legacy.idleMs', l.idleMs ?? 1_800_000, 1),
    retireAfterMs: cap === null ? null : int('legacy.retireAfterMs', cap, 0),
    maxEntries: int('legacy.maxEntries', l.maxEntries ?? 100_000, 1),
  };
}

function resolveAdmin(admin: NonNullable<BalancerOptions['admin']>): Settings['admin'] {
  const host = admin.host ?? '127.0.0.1';
  const token = admin.token;
  if (token !== undefined && (typeof token !== 'string' || token.length === 0))
    invalid('admin.token', 'a non-empty string (e.g. from `openssl rand -base64 32`)', token);
  // Without a token, anyone who reaches the admin API can add a server of theirs and receive
  // every user's requests, session cookies included: only this machine may reach it then.
  if (token === undefined && !isLoopbackAddress(host))
    invalid(
      'admin.host',
      'a loopback address (127.0.0.1, ::1, localhost) unless admin.token (--admin-token, UNPINNED_ADMIN_TOKEN) is set',
      host,
    );
  return { port: int('admin.port', admin.port, 0), host, token };
}

function resolveServedBy(value: string | boolean | undefined): string | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return 'x-served-by';
  return token('servedByHeader', value).toLowerCase();
}

function int(name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    invalid(name, `an integer >= ${min}`, value);
  }
  return value as number;
}

function percent(name: string, value: unknown): number {
  if (typeof value !== 'number' || !(value >= 0 && value <= 100))
    invalid(name, 'a number from 0 to 100', value);
  return value as number;
}

function token(name: string, value: unknown): string {
  if (typeof value !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(value)) {
    invalid(name, 'an HTTP token (letters, digits, -, _)', value);
  }
  return value as string;
}

function invalid(name: string, expected: string, got: unknown): never {
  throw invalidOption(name, expected, got);
}
