/**
 * What a production balancer config is made of, whichever balancer reads it:
 * the app servers, the strategy, health checks and timeouts, and whether it
 * pins users to servers (the sticky variant, for the migration period only).
 * The defaults are those of `unpinned lb`, so a move between them changes
 * nothing about how traffic is spread.
 */
import { invalidOption } from '../balancer/errors.js';

export type ConfigStrategy = 'round-robin' | 'least-connections';
export const configStrategies: readonly ConfigStrategy[] = ['round-robin', 'least-connections'];

export interface ProxyConfigInput {
  /** App servers as http://host:port URLs. */
  backends: string[];
  /** Address clients connect to, `[host]:port`. Default `:8080`. */
  listen?: string;
  strategy?: ConfigStrategy;
  /** Pin each user to a server (HAProxy cookie; nginx hash of the session cookie). Default off. */
  sticky?: boolean;
  /** The app's session cookie (nginx's sticky variant hashes it). Default `sid`. */
  sessionCookie?: string;
  healthPath?: string;
  intervalMs?: number;
  rise?: number;
  fall?: number;
  /** A server that comes back takes a growing share of traffic over this time (HAProxy). */
  slowstartMs?: number;
  connectTimeoutMs?: number;
  /** Longest wait for an app server's answer. */
  serverTimeoutMs?: number;
  /** Attempts per request, first included; only requests no server received are retried. */
  maxAttempts?: number;
  /**
   * The move off sticky sessions (HAProxy): `legacyBackends` are the old servers that keep
   * sessions in memory; they keep the sessions they issued and take no new ones.
   */
  migrate?: { legacyBackends: string[]; legacyCookie: string; idleMs?: number };
}

export interface ProxyConfig {
  backends: { name: string; host: string; port: number }[];
  listen: { host: string; port: number };
  strategy: ConfigStrategy;
  sticky: boolean;
  sessionCookie: string;
  healthPath: string;
  intervalMs: number;
  rise: number;
  fall: number;
  slowstartMs: number;
  connectTimeoutMs: number;
  serverTimeoutMs: number;
  maxAttempts: number;
  migrate: {
    legacyBackends: { name: string; host: string; port: number }[];
    legacyCookie: string;
    idleMs: number;
  } | null;
}

export function resolveProxyConfig(input: ProxyConfigInput): ProxyConfig {
  if (!input.backends?.length)
    throw invalidOption('--backend', 'at least one app server URL', input.backends);
  const strategy = input.strategy ?? 'round-robin';
  if (!configStrategies.includes(strategy))
    throw invalidOption('--strategy', configStrategies.join(' or '), strategy);
  const healthPath = input.healthPath ?? '/healthz';
  if (!/^\/[\w\-./~%]*$/.test(healthPath))
    throw invalidOption('--health-path', 'a plain URL path', healthPath);
  const sessionCookie = input.sessionCookie ?? 'sid';
  // No dot: nginx's `$cookie_<name>` variable ends at one.
  if (!/^[\w-]+$/.test(sessionCookie))
    throw invalidOption('--session-cookie', 'a cookie name', sessionCookie);
  return {
    backends: input.backends.map(parseBackend),
    listen: parseListen(input.listen ?? ':8080'),
    strategy,
    sticky: input.sticky ?? false,
    sessionCookie,
    healthPath,
    intervalMs: positive('--interval', input.intervalMs ?? 2000),
    rise: positive('--rise', input.rise ?? 2),
    fall: positive('--fall', input.fall ?? 3),
    slowstartMs: positive('--slowstart', input.slowstartMs ?? 10_000, true),
    connectTimeoutMs: positive('--connect-timeout', input.connectTimeoutMs ?? 2000),
    serverTimeoutMs: positive('--server-timeout', input.serverTimeoutMs ?? 30_000),
    maxAttempts: positive('--max-attempts', input.maxAttempts ?? 3),
    migrate: input.migrate ? resolveMigrate(input.migrate) : null,
  };
}

// Letters, digits, `-`, `_` and `.` (connect.sid): nothing a config file would read as syntax.
const cookieName = /^[\w.-]+$/;

function resolveMigrate(m: NonNullable<ProxyConfigInput['migrate']>): ProxyConfig['migrate'] {
  if (!m.legacyBackends?.length)
    throw invalidOption('--legacy-backend', 'at least one old server URL (with --migrate)', m.legacyBackends);
  if (!m.legacyCookie || !cookieName.test(m.legacyCookie))
    throw invalidOption(
      '--legacy-cookie',
      "the old app's session cookie name, e.g. connect.sid",
      m.legacyCookie,
    );
  return {
    // Named as the sticky variant named them, so their cookie values are the ones users hold.
    legacyBackends: m.legacyBackends.map(parseBackend).map((b, i) => ({ ...b, name: `app${i + 1}` })),
    legacyCookie: m.legacyCookie,
    idleMs: positive('--legacy-idle', m.idleMs ?? 1_800_000),
  };
}

function parseBackend(url: string, i: number): { name: string; host: string; port: number } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalidOption('--backend', 'an http://host:port URL', url);
  }
  if (parsed.protocol !== 'http:' || !parsed.port || (parsed.pathname !== '/' && parsed.pathname !== ''))
    throw invalidOption('--backend', 'an http://host:port URL with an explicit port and no path', url);
  return { name: `app${i + 1}`, host: parsed.hostname, port: Number(parsed.port) };
}

function parseListen(value: string): { host: string; port: number } {
  const match = /^(?:(\[[^\]]+\]|[^:[\]]*):)?(\d+)$/.exec(value);
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65_535)
    throw invalidOption('--listen', '[host]:port such as :8080', value);
  return { host: match[1] || '', port };
}

function positive(flag: string, value: number, zeroOk = false): number {
  if (!Number.isInteger(value) || value < (zeroOk ? 0 : 1))
    throw invalidOption(flag, zeroOk ? 'an integer >= 0' : 'an integer >= 1', value);
  return value;
}

/** `host:port` as a balancer writes a server address (IPv6 in brackets). */
export function address(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}
