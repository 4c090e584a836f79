/**
 * `unpinned up` and the verbs that steer a running system. The verbs find the
 * system through a small file named after its balancer port, and speak to its
 * control API: the same API the dashboard uses.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { dashboard } from '../dashboard/index.js';
import { type Logger, lineLogger, logFormat } from '../observe/log.js';
import { startControl } from '../system/control.js';
import { portInUse } from '../system/errors.js';
import { onStopRequest } from '../system/stop-requests.js';
import { System, type SystemStatus } from '../system/supervisor.js';

export function controlFile(port: number): string {
  return join(tmpdir(), `unpinned-up-${port}.json`);
}

interface UpFlags {
  servers: string;
  port: string;
  sticky?: boolean;
  strategy?: string;
  redis?: string;
  store?: 'auto' | 'redis' | 'sqlite';
  app?: string;
  maxConcurrent?: string;
  serviceMs?: string;
  controlPort: string;
  logFormat?: string;
}

/**
 * What `up` tells its operator: human lines (`pretty`, the default), or with `--log-format json`
 * one pino line per event on stdout, the supervisor's and the balancer's included, so a log
 * shipper parses every line.
 */
interface UpOutput {
  json: Logger | null;
  info(fields: Record<string, unknown>, msg: string, line?: string): void;
  warn(fields: Record<string, unknown>, msg: string, line?: string): void;
  error(fields: Record<string, unknown>, msg: string, line?: string): void;
}

function upOutput(format: 'json' | 'pretty'): UpOutput {
  const json = format === 'json' ? lineLogger('json', (line) => process.stdout.write(line)) : null;
  const say =
    (level: 'info' | 'warn' | 'error') => (fields: Record<string, unknown>, msg: string, line?: string) => {
      if (json) json[level](fields, msg);
      else if (level === 'error') console.error(line ?? msg);
      else console.log(line ?? msg);
    };
  return { json, info: say('info'), warn: say('warn'), error: say('error') };
}

export async function up(flags: UpFlags): Promise<void> {
  const out = upOutput(logFormat(flags.logFormat));
  // After a hang-up (the terminal closed) or the parent's death, writes to stdout can fail
  // (EIO, EPIPE): the stop must go on without them rather than die of an unhandled 'error'.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
  if (!out.json) return runUp(flags, out);
  // A failure to start is a JSON line too, with its code, then exit 1 as in pretty mode.
  return runUp(flags, out).catch((error: Error & { code?: string }) => {
    out.error({ code: error.code ?? null }, error.message);
    process.exit(1);
  });
}

async function runUp(flags: UpFlags, out: UpOutput): Promise<void> {
  const controlPort = Number(flags.controlPort);
  // A taken control port fails before anything starts, not after the store and servers did.
  if (controlPort !== 0) await probePort(controlPort, 'the control API', '--control-port');
  const system = new System({
    servers: Number(flags.servers),
    port: Number(flags.port),
    sticky: flags.sticky ?? false,
    ...(flags.strategy ? { strategy: flags.strategy as never } : {}),
    ...(flags.redis ? { redisUrl: flags.redis } : {}),
    ...(flags.store ? { store: flags.store } : {}),
    // The user's own server: run through a shell, `exec` so SIGTERM reaches it.
    ...(flags.app ? { app: ['/bin/sh', '-c', `exec ${flags.app}`] } : {}),
    ...(flags.maxConcurrent
      ? { capacity: { maxConcurrent: Number(flags.maxConcurrent), serviceMs: Number(flags.serviceMs ?? 0) } }
      : {}),
    // Pretty: the supervisor's status lines, as ever. JSON: its structured events, which
    // include everything those lines say, and the balancer's ejections and drains.
    ...(out.json ? { logger: out.json } : { log: (line: string) => console.log(line) }),
  });
  // Listening from the first moment: a signal during the start stops what has started so far.
  const started = (async () => {
    await system.start();
    return startControl(system, controlPort, dashboard(system)).catch((error: unknown) => {
      throw portInUse(error, controlPort, 'the control API', '--control-port');
    });
  })();
  const stop = async (reason: string) => {
    out.info({ reason }, 'stopping', `\nstopping (${reason})… a second Ctrl-C stops at once.`);
    const control = await started.catch(() => null);
    if (control) {
      control.server.closeAllConnections();
      await new Promise((resolve) => control.server.close(resolve));
    }
    await system.stop();
    out.info({}, 'stopped: nothing left running', 'stopped: nothing left running.');
    process.exit(0);
  };
  const force = (signal: NodeJS.Signals) => {
    const killed = system.forceStop();
    out.warn(
      { signal, killed },
      `${signal} again: killed ${killed} process group(s) with SIGKILL`,
      `${signal} again: killed ${killed} process group(s) with SIGKILL; stopped.`,
    );
    process.exit(128 + constants.signals[signal]);
  };
  onStopRequest({
    stop: (reason) =>
      void stop(reason).catch((error: unknown) => {
        out.error(
          { error: String(error) },
          'the stop failed: killing what is left',
          `unpinned: the stop failed (${String(error)}); killing what is left.`,
        );
        system.forceStop();
        process.exit(1);
      }),
    force,
  });
  const { url } = await started.catch(async (error: unknown) => {
    // start() stopped what it had started; a failed control API leaves the rest to stop here.
    await system.stop();
    throw error;
  });
  const file = controlFile(Number(new URL(system.url).port));
  writeFileSync(file, JSON.stringify({ control: url, pid: process.pid }));
  system.removeWithSystem(file);
  if (out.json) {
    const status = system.status();
    out.json.info(
      {
        mode: modeOf(status),
        balancer: status.balancer.url,
        strategy: status.balancer.strategy,
        store: { kind: status.store.kind, url: status.store.url, up: status.store.up },
        servers: status.servers.map((s) => ({
          name: s.name,
          url: s.url,
          pid: s.pid ?? null,
          state: s.state,
        })),
        control: url,
        dashboard: `${url}/`,
      },
      `unpinned is up (${modeOf(status)})`,
    );
    return;
  }
  printStatus(system.status(), url);
  console.log(`  dashboard ${url}/`);
  console.log(`\nOpen ${system.url} (the shop) and ${url}/ (the dashboard) · Ctrl-C stops everything.`);
  console.log(
    'Check your own app before it leaves sticky sessions: unpinned check --app "node server.js" --har journey.har (docs/check.md).',
  );
}

/** Fails with UNPINNED_ERR_PORT_IN_USE when `port` is taken on loopback. */
async function probePort(port: number, what: string, flag: string): Promise<void> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', (error) => reject(portInUse(error, port, what, flag)));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve()));
  });
}

function modeOf(status: SystemStatus): string {
  return status.migration?.state === 'migrating'
    ? 'migrating off sticky sessions'
    : status.sticky
      ? 'sticky baseline: in-memory sessions, sticky-cookie routing'
      : 'stateless';
}

function printStatus(status: SystemStatus, control?: string): void {
  console.log(`unpinned is up (${modeOf(status)})`);
  console.log(`  balancer  ${status.balancer.url}  strategy ${status.balancer.strategy}`);
  console.log(
    `  store     ${status.store.kind}${status.store.url ? `  ${status.store.url}` : ''}${status.store.up ? '' : '  (down)'}`,
  );
  for (const s of status.servers) {
    console.log(
      `  ${s.name.padEnd(8)}  ${s.url}  ${s.state.padEnd(8)} pid ${s.pid ?? '-'}  in-flight ${s.inFlight}  requests ${s.requests}`,
    );
  }
  if (status.migration) console.log(`  migration ${migrationLine(status)}`);
  if (control)
    console.log(
      `  control   ${control}  (unpinned status | deploy | scale <n> | add | remove <server> | kill <server> | restart-store | migrate)`,
    );
}

/** One line of migration progress: sessions left per old server, time to the cap. */
export function migrationLine(status: SystemStatus): string {
  const m = status.migration;
  if (!m) return 'not started';
  const servers = m.servers
    .map((s) =>
      s.state === 'retired'
        ? `${s.name} retired${s.forcedOut ? ` (${s.forcedOut} forced out at the cap)` : ''}`
        : `${s.name} ${s.sessions} session${s.sessions === 1 ? '' : 's'} left`,
    )
    .join(' · ');
  if (m.state === 'done') return `done: stateless · ${servers}`;
  const cap = m.capInMs === null ? 'no cap' : `cap in ${duration(m.capInMs)}`;
  return `${servers} · ${cap}`;
}

function duration(ms: number): string {
  const s = Math.ceil(ms / 1000);
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

interface MigrateFlags {
  port: string;
  cap?: string;
  idle?: string;
  detach?: boolean;
  json?: boolean;
}

/** `unpinned migrate`: starts the move, then follows it until the system is stateless. */
async function migrate(flags: MigrateFlags): Promise<void> {
  const port = Number(flags.port);
  const body = {
    ...(flags.cap !== undefined && { cap: Number(flags.cap) }),
    ...(flags.idle !== undefined && { idle: Number(flags.idle) }),
  };
  let status = await control(port, 'POST', '/migrate', body);
  const show = (s: SystemStatus) =>
    console.log(flags.json ? JSON.stringify(s.migration) : `migration ${migrationLine(s)}`);
  show(status);
  if (flags.detach) {
    if (!flags.json) console.log('detached: follow it with `unpinned status`.');
    return;
  }
  const stable = (s: SystemStatus) => migrationLine(s).replace(/cap in \S+/, '');
  let last = stable(status);
  let lastAt = Date.now();
  while (status.migration?.state !== 'done') {
    await new Promise((resolve) => setTimeout(resolve, 500));
    status = await control(port, 'GET', '/status');
    // A line when something changed, else one every 10 s: progress without a flood.
    if (stable(status) !== last || Date.now() - lastAt > 10_000) {
      show(status);
      last = stable(status);
      lastAt = Date.now();
    }
  }
  if (!flags.json) printStatus(status);
}

/** Call the control API of the system whose balancer listens on `port`. */
export async function control(
  port: number,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<SystemStatus> {
  const file = controlFile(port);
  if (!existsSync(file)) {
    throw Object.assign(
      new Error(`No system is running on port ${port} (start one with \`unpinned up\`, or pass --port).`),
      {
        code: 'UNPINNED_ERR_NOT_RUNNING',
      },
    );
  }
  const { control: url } = JSON.parse(readFileSync(file, 'utf8')) as { control: string };
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  }).catch((cause: unknown) => {
    throw Object.assign(
      new Error(`The system on port ${port} does not answer (${String(cause)}); is it still running?`),
      {
        code: 'UNPINNED_ERR_NOT_RUNNING',
      },
    );
  });
  const result = (await res.json()) as SystemStatus & { error?: { code: string; message: string } };
  if (!res.ok)
    throw Object.assign(new Error(result.error?.message ?? `HTTP ${res.status}`), {
      code: result.error?.code,
    });
  return result;
}

export function registerSystemCommands(program: Command): void {
  program
    .command('up')
    .description('start a store, app servers and the balancer as one system (Ctrl-C stops it all)')
    .option('--servers <n>', 'number of app servers', '3')
    .option('--port <port>', 'balancer port', '8080')
    .option('--sticky', 'run the baseline: in-memory sessions and sticky-cookie routing')
    .option('--strategy <name>', 'round-robin, least-connections, random, p2c')
    .option('--redis <url>', 'use this Redis instead of starting one')
    .option('--store <kind>', 'auto (default), redis or sqlite')
    .option('--app <command>', 'run your own app server (gets PORT and the store in its environment)')
    .option('--max-concurrent <n>', 'modelled capacity of each shop server')
    .option('--service-ms <ms>', 'modelled service time per request')
    .option('--control-port <port>', 'port of the control API and the dashboard (0: a free one)', '0')
    .option('--log-format <format>', 'json (pino-shaped lines on stdout) or pretty (default)')
    .action((flags: UpFlags) => up(flags));

  const verb = (
    name: string,
    description: string,
    run: (port: number, arg?: string) => Promise<SystemStatus>,
    arg?: string,
  ) => {
    const cmd = program.command(arg ? `${name} <${arg}>` : name).description(description);
    cmd.option('--port <port>', 'balancer port of the system', '8080').option('--json', 'print JSON');
    cmd.action(async (...args: unknown[]) => {
      const flags = (arg ? args[1] : args[0]) as { port: string; json?: boolean };
      const status = await run(Number(flags.port), arg ? String(args[0]) : undefined);
      if (flags.json) console.log(JSON.stringify(status));
      else printStatus(status);
    });
  };
  program
    .command('migrate')
    .description('move an `up --sticky` system off sticky sessions without logging anyone out')
    .option('--port <port>', 'balancer port of the system', '8080')
    .option(
      '--cap <seconds>',
      'retire each old server after this long, whatever its sessions (default 86400)',
    )
    .option(
      '--idle <seconds>',
      "a session not seen this long has ended: the old app's idle timeout (default 1800)",
    )
    .option('--detach', 'return at once; `unpinned status` shows the progress')
    .option('--json', 'print JSON')
    .action((flags: MigrateFlags) => migrate(flags));
  verb('status', 'show the servers, the store and the balancer', (port) => control(port, 'GET', '/status'));
  verb('deploy', 'rolling deploy: one server at a time, drained first', (port) =>
    control(port, 'POST', '/deploy'),
  );
  verb(
    'scale',
    'scale to <n> app servers',
    (port, n) => control(port, 'POST', '/scale', { servers: Number(n) }),
    'n',
  );
  verb(
    'kill',
    'crash a server (SIGKILL)',
    (port, server) => control(port, 'POST', '/kill', { server }),
    'server',
  );
  verb('restart-store', 'restart the session store', (port) => control(port, 'POST', '/restart-store'));
  verb('add', 'add one app server', (port) => control(port, 'POST', '/add'));
  verb(
    'remove',
    'remove an app server (drained first)',
    (port, server) => control(port, 'POST', '/remove', { server }),
    'server',
  );
}
