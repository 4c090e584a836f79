/**
 * `unpinned lb`: runs the load balancer from flags and/or a JSON config file (flags win), and
 * shuts it down gracefully on SIGTERM/SIGINT (in-flight requests finish, then exit 0).
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { invalidOption } from '../balancer/errors.js';
import { type BalancerOptions, createBalancer, strategyNames } from '../balancer/index.js';
import { lineLogger, logFormat } from '../observe/log.js';

/** The config file: every `createBalancer()` option plus where to listen. */
export interface LbConfigFile extends Omit<BalancerOptions, 'admin' | 'clock' | 'random'> {
  listen?: string;
  admin?: { listen?: string; token?: string };
  /** Servers (URLs or ids) marked retiring at start: the old fleet of a migration (legacy.ts). */
  retire?: string[];
}

interface LbFlags {
  logFormat?: string;
  accessLog?: boolean;
  config?: string;
  listen?: string;
  backend: string[];
  strategy?: string;
  healthPath?: string;
  healthInterval?: number;
  rise?: number;
  fall?: number;
  admin?: string;
  adminToken?: string;
  servedBy?: string | boolean;
  trustedProxy: string[];
  retryIdempotent?: boolean;
  maxAttempts?: number;
  connectTimeout?: number;
  headersTimeout?: number;
  idleTimeout?: number;
  maxBody?: number;
  maxHeader?: number;
  maxHeaderCount?: number;
  retire?: string[];
  legacyCookie?: string;
  serverCookie?: string;
  legacyIdle?: number;
  retireAfter?: number;
  legacyMaxEntries?: number;
}

export const int = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw invalidOption(name, 'a non-negative integer', value);
  return n;
};
export const collect = (value: string, previous: string[]) => [...previous, value];

export function registerLb(program: Command): void {
  program
    .command('lb')
    .description('Run the HTTP load balancer in front of your app servers.')
    .option('-c, --config <file>', 'JSON config file (flags override it)')
    .option('-l, --listen <[host]:port>', 'where clients connect; ":8080" means every interface', undefined)
    .option('-b, --backend <url>', 'an app server, e.g. http://127.0.0.1:3001 (repeat)', collect, [])
    .option('-s, --strategy <name>', `one of ${strategyNames.join(', ')}`)
    .option('--health-path <path>', 'enable active health checks: GET this path')
    .option('--health-interval <ms>', 'health-check interval', int('--health-interval'))
    .option('--rise <n>', 'passing checks to bring a server up', int('--rise'))
    .option('--fall <n>', 'failing checks to take a server down', int('--fall'))
    .option('--admin <[host]:port>', 'admin API address (host defaults to 127.0.0.1)')
    .option('--admin-token <token>', 'require this bearer token on the admin API (or UNPINNED_ADMIN_TOKEN)')
    .option('--served-by [header]', 'add a response header naming the server (default x-served-by)')
    .option(
      '--trusted-proxy <cidr>',
      'believe X-Forwarded-* from this address or range (repeat)',
      collect,
      [],
    )
    .option('--retry-idempotent', 'also retry idempotent requests that reached a failing server')
    .option('--max-attempts <n>', 'attempts per request, first included', int('--max-attempts'))
    .option('--connect-timeout <ms>', 'upstream connect timeout', int('--connect-timeout'))
    .option('--headers-timeout <ms>', 'upstream response-headers timeout', int('--headers-timeout'))
    .option('--idle-timeout <ms>', 'upstream idle timeout within a response', int('--idle-timeout'))
    .option('--max-body <bytes>', 'reject request bodies larger than this', int('--max-body'))
    .option('--max-header <bytes>', 'reject request headers larger than this', int('--max-header'))
    .option(
      '--max-header-count <n>',
      'reject requests with more header fields (default 101)',
      int('--max-header-count'),
    )
    .option(
      '--retire <url>',
      'an old server to retire: only its legacy sessions reach it, removed when they end (repeat)',
      collect,
      [],
    )
    .option(
      '--legacy-cookie <name>',
      "the old app's session cookie, learned from its Set-Cookie (e.g. connect.sid)",
    )
    .option(
      '--server-cookie <name>',
      'a HAProxy-style server cookie (value = server id) that binds to an old server',
    )
    .option(
      '--legacy-idle <seconds>',
      "a legacy session not seen this long has ended: the old app's idle timeout (default 1800)",
      int('--legacy-idle'),
    )
    .option(
      '--retire-after <seconds>',
      'retire an old server this long after it was marked, whatever its sessions',
      int('--retire-after'),
    )
    .option(
      '--legacy-max-entries <n>',
      'learned legacy sessions kept at most (default 100000)',
      int('--legacy-max-entries'),
    )
    .option('--log-format <format>', 'json (pino-shaped lines) or pretty (default)')
    .option('--access-log', 'log every request (method, path without query, status, ms, server)')
    .action(async (flags: LbFlags) => runLb(flags));
}

async function runLb(flags: LbFlags): Promise<void> {
  const file: LbConfigFile = flags.config ? JSON.parse(readFileSync(flags.config, 'utf8')) : {};
  const options = mergeOptions(file, flags);
  const listen = parseAddress(flags.listen ?? file.listen ?? ':8080', '0.0.0.0', '--listen');
  const retire = flags.retire?.length ? flags.retire : (file.retire ?? []);
  for (const url of retire)
    if (!(options.backends ?? []).some((b) => (typeof b === 'string' ? b : b.url) === url))
      options.backends = [...(options.backends ?? []), url];
  const format = logFormat(flags.logFormat);
  const logger = lineLogger(format, (line) => process.stdout.write(line));
  // Pretty keeps the lines people (and scripts) read today; json is one pino line per event.
  if (format === 'json') options.logger = logger;
  const lb = createBalancer(options);
  lb.on('retired', (r: { id: string; reason: string; forcedOut: number }) =>
    format === 'json'
      ? logger.info({ server: r.id, reason: r.reason, forcedOut: r.forcedOut }, `server ${r.id} retired`)
      : process.stdout.write(`server ${r.id} retired (${r.reason}, ${r.forcedOut} sessions forced out)\n`),
  );
  for (const id of retire) void lb.retire(id);
  const address = await lb.listen(listen.port, listen.host);
  const admin = lb.adminAddress();
  const listening = `unpinned lb listening on http://${address.address}:${address.port} (strategy ${lb.strategy}, ${lb.backends().length} servers)${admin ? `, admin on http://${admin.address}:${admin.port}` : ''}`;
  logger.info({ strategy: lb.strategy, servers: lb.backends().length }, listening);
  if (format === 'pretty') {
    lb.on('state', (e: { id: string; state: string; reason: string }) =>
      process.stdout.write(`server ${e.id} ${e.state} (${e.reason})\n`),
    );
  }
  if (flags.accessLog) {
    diagnosticsChannel.subscribe('unpinned:balancer:request', (message) => {
      const m = message as {
        server?: string;
        method: string;
        url: string;
        status: number;
        ms: number;
        error?: string;
      };
      // The path only: a query string is where tokens travel in links.
      const path = m.url.split('?')[0];
      const fields = {
        method: m.method,
        path,
        status: m.status,
        ms: Math.round(m.ms * 100) / 100,
        server: m.server ?? null,
        ...(m.error ? { error: m.error } : {}),
      };
      logger.info(fields, `${m.method} ${path} ${m.status}`);
    });
  }
  // Whoever started us may have gone away (closed pipe): logging must never crash the balancer.
  process.stdout.on('error', () => {});
  const stop = (signal: string) => {
    logger.info({ signal }, `${signal}: finishing requests in flight, then exiting`);
    lb.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

/** Flags over file over defaults. */
export function mergeOptions(file: LbConfigFile, flags: LbFlags): BalancerOptions {
  const { listen: _listen, admin: fileAdmin, ...rest } = file;
  const options: BalancerOptions = { ...rest };
  if (flags.backend.length > 0) options.backends = flags.backend;
  if (flags.strategy) options.strategy = flags.strategy as BalancerOptions['strategy'];
  const healthPath = flags.healthPath ?? (file.healthCheck || undefined)?.path;
  const healthFlags = [flags.healthPath, flags.healthInterval, flags.rise, flags.fall].some(
    (f) => f !== undefined,
  );
  if (healthPath && healthFlags) {
    options.healthCheck = {
      ...(file.healthCheck || {}),
      path: healthPath,
      ...(flags.healthInterval !== undefined && { intervalMs: flags.healthInterval }),
      ...(flags.rise !== undefined && { rise: flags.rise }),
      ...(flags.fall !== undefined && { fall: flags.fall }),
    };
  }
  const adminListen = flags.admin ?? fileAdmin?.listen;
  if (adminListen) {
    const a = parseAddress(adminListen, '127.0.0.1', '--admin');
    const token = flags.adminToken ?? process.env.UNPINNED_ADMIN_TOKEN ?? fileAdmin?.token;
    options.admin = { port: a.port, host: a.host, ...(token && { token }) };
  }
  if (flags.servedBy !== undefined) options.servedByHeader = flags.servedBy;
  if (flags.trustedProxy.length > 0) options.trustedProxies = flags.trustedProxy;
  options.retry = {
    ...file.retry,
    ...(flags.retryIdempotent && { idempotent: true }),
    ...(flags.maxAttempts !== undefined && { maxAttempts: flags.maxAttempts }),
  };
  options.timeouts = {
    ...file.timeouts,
    ...(flags.connectTimeout !== undefined && { connectMs: flags.connectTimeout }),
    ...(flags.headersTimeout !== undefined && { headersMs: flags.headersTimeout }),
    ...(flags.idleTimeout !== undefined && { idleMs: flags.idleTimeout }),
  };
  options.limits = {
    ...file.limits,
    ...(flags.maxBody !== undefined && { maxBodyBytes: flags.maxBody }),
    ...(flags.maxHeader !== undefined && { maxHeaderBytes: flags.maxHeader }),
    ...(flags.maxHeaderCount !== undefined && { maxHeaderCount: flags.maxHeaderCount }),
  };
  options.legacy = {
    ...file.legacy,
    ...(flags.legacyCookie !== undefined && { cookie: flags.legacyCookie }),
    ...(flags.serverCookie !== undefined && { serverCookie: flags.serverCookie }),
    ...(flags.legacyIdle !== undefined && { idleMs: flags.legacyIdle * 1000 }),
    ...(flags.retireAfter !== undefined && { retireAfterMs: flags.retireAfter * 1000 }),
    ...(flags.legacyMaxEntries !== undefined && { maxEntries: flags.legacyMaxEntries }),
  };
  return options;
}

/** `":8080"`, `"127.0.0.1:8080"`, `"[::1]:8080"` or `"8080"` → host and port. */
export function parseAddress(
  value: string,
  defaultHost: string,
  flag: string,
): { host: string; port: number } {
  const match = /^(?:(?:\[([^\]]+)\]|([^:[\]]*)):)?(\d+)$/.exec(value);
  const port = Number(match?.[3]);
  if (!match || !Number.isInteger(port) || port > 65_535)
    throw invalidOption(flag, '[host]:port such as :8080', value);
  return { host: match[1] ?? (match[2] || defaultHost), port };
}
