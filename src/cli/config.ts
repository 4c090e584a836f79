/**
 * `unpinned config haproxy|nginx`: a production balancer config for a set of app
 * servers, printed to stdout or written with `--out <file>`.
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { haproxyConfig } from '../config/haproxy.js';
import { nginxConfig } from '../config/nginx.js';
import { type ConfigStrategy, configStrategies, resolveProxyConfig } from '../config/options.js';
import { collect, int } from './lb.js';

interface ConfigFlags {
  backend: string[];
  listen?: string;
  strategy?: ConfigStrategy;
  sticky?: boolean;
  sessionCookie?: string;
  healthPath?: string;
  interval?: number;
  rise?: number;
  fall?: number;
  slowstart?: number;
  connectTimeout?: number;
  serverTimeout?: number;
  maxAttempts?: number;
  adminSocket?: string;
  runDir?: string;
  out?: string;
  migrate?: boolean;
  legacyCookie?: string;
  legacyBackend?: string[];
  legacyIdle?: number;
}

function commonOptions(command: Command): Command {
  return command
    .option('-b, --backend <url>', 'an app server, e.g. http://10.0.0.5:3000 (repeat)', collect, [])
    .option('-l, --listen <[host]:port>', 'where clients connect', ':8080')
    .option('-s, --strategy <name>', configStrategies.join(' or '), 'round-robin')
    .option('--sticky', 'pin users to servers (only while sessions still live in app memory)')
    .option('--health-path <path>', 'health check path of the app servers', '/healthz')
    .option('--interval <ms>', 'health-check interval', int('--interval'))
    .option('--rise <n>', 'passing checks to bring a server up', int('--rise'))
    .option('--fall <n>', 'failing checks (or failed requests) to take a server out', int('--fall'))
    .option('--connect-timeout <ms>', 'connect timeout to an app server', int('--connect-timeout'))
    .option('--server-timeout <ms>', 'longest wait for an app server to answer', int('--server-timeout'))
    .option('--max-attempts <n>', 'attempts per request, first included', int('--max-attempts'))
    .option('-o, --out <file>', 'write the config to this file instead of stdout');
}

function emit(text: string, out: string | undefined): void {
  if (out) {
    writeFileSync(out, text);
    process.stderr.write(`wrote ${out}\n`);
  } else {
    process.stdout.write(text);
  }
}

function resolve(flags: ConfigFlags) {
  return resolveProxyConfig({
    backends: flags.backend,
    ...(flags.listen !== undefined && { listen: flags.listen }),
    ...(flags.strategy !== undefined && { strategy: flags.strategy }),
    sticky: flags.sticky === true,
    ...(flags.sessionCookie !== undefined && { sessionCookie: flags.sessionCookie }),
    ...(flags.healthPath !== undefined && { healthPath: flags.healthPath }),
    ...(flags.interval !== undefined && { intervalMs: flags.interval }),
    ...(flags.rise !== undefined && { rise: flags.rise }),
    ...(flags.fall !== undefined && { fall: flags.fall }),
    ...(flags.slowstart !== undefined && { slowstartMs: flags.slowstart }),
    ...(flags.connectTimeout !== undefined && { connectTimeoutMs: flags.connectTimeout }),
    ...(flags.serverTimeout !== undefined && { serverTimeoutMs: flags.serverTimeout }),
    ...(flags.maxAttempts !== undefined && { maxAttempts: flags.maxAttempts }),
    ...(flags.migrate && {
      migrate: {
        legacyBackends: flags.legacyBackend ?? [],
        legacyCookie: flags.legacyCookie ?? '',
        ...(flags.legacyIdle !== undefined && { idleMs: flags.legacyIdle * 1000 }),
      },
    }),
  });
}

export function registerConfig(program: Command): void {
  const config = program
    .command('config')
    .description('Print a production balancer config (HAProxy or nginx) for your app servers.');
  commonOptions(config.command('haproxy').description('HAProxy config (check it with haproxy -c -f <file>)'))
    .option('--slowstart <ms>', 'ramp-up time of a server that comes back (0: off)', int('--slowstart'))
    .option('--admin-socket <path>', 'admin socket, for draining', '/run/haproxy/admin.sock')
    .option('--migrate', 'move off sticky sessions: old servers keep the sessions they issued, no new ones')
    .option('--legacy-cookie <name>', "with --migrate: the old app's session cookie, e.g. connect.sid")
    .option(
      '--legacy-backend <url>',
      'with --migrate: an old server keeping sessions in memory (repeat)',
      collect,
      [],
    )
    .option(
      '--legacy-idle <seconds>',
      "with --migrate: the old app's idle timeout (default 1800)",
      int('--legacy-idle'),
    )
    .action((flags: ConfigFlags) =>
      emit(haproxyConfig(resolve(flags), { adminSocket: flags.adminSocket! }), flags.out),
    );
  commonOptions(config.command('nginx').description('nginx.conf (check it with nginx -t -c <file>)'))
    .option('--session-cookie <name>', "the app's session cookie, hashed by --sticky", 'sid')
    .option('--run-dir <dir>', 'directory for the pid and temp files (default: nginx defaults)')
    .action((flags: ConfigFlags) =>
      emit(nginxConfig(resolve(flags), flags.runDir ? { runDir: flags.runDir } : {}), flags.out),
    );
}
