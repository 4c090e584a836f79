/**
 * `unpinned check`: exit code 0 when the journey shows no server-local state,
 * 1 when it found some, 2 for a usage or setup error (with a message that says
 * what to do). Progress goes to stderr, the report to stdout; `--json -` puts
 * the JSON on stdout and the report on stderr.
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CheckError, check, formatReport } from '../check/index.js';

interface CheckFlags {
  app: string;
  har?: string;
  script?: string;
  replicas: string;
  json?: string;
  harOut?: string;
  redis?: string;
  env: string[];
  ready?: string;
  origin?: string;
  startTimeout: string;
}

function environment(pairs: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) {
      throw new CheckError('UNPINNED_ERR_CHECK_USAGE', `--env takes KEY=VALUE, got "${pair}".`);
    }
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return env;
}

function count(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) {
    throw new CheckError('UNPINNED_ERR_CHECK_USAGE', `${name} must be a positive number, got "${value}".`);
  }
  return n;
}

async function runCheck(flags: CheckFlags): Promise<number> {
  const controller = new AbortController();
  const interrupt = () => controller.abort();
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  try {
    const result = await check({
      app: flags.app,
      ...(flags.har !== undefined && { har: flags.har }),
      ...(flags.script !== undefined && { script: flags.script }),
      replicas: Number(flags.replicas),
      ...(flags.redis !== undefined && { redis: flags.redis }),
      env: environment(flags.env),
      ...(flags.ready !== undefined && { ready: flags.ready }),
      ...(flags.origin !== undefined && { origin: flags.origin }),
      ...(flags.harOut !== undefined && { harOut: flags.harOut }),
      startTimeoutMs: count('--start-timeout', flags.startTimeout) * 1000,
      progress: (line) => process.stderr.write(`unpinned check: ${line}\n`),
      signal: controller.signal,
    });
    const json = `${JSON.stringify(result, null, 2)}\n`;
    if (flags.json === '-') {
      process.stdout.write(json);
      process.stderr.write(`${formatReport(result)}\n`);
    } else {
      if (flags.json) writeFileSync(flags.json, json);
      process.stdout.write(`${formatReport(result)}\n`);
    }
    return result.verdict === 'stateless' ? 0 : 1;
  } catch (error) {
    if (controller.signal.aborted) {
      process.stderr.write('unpinned check: interrupted; every replica it started is stopped.\n');
      return 130;
    }
    const err = error as Error & { code?: string };
    // The code goes with the sentence that explains it, not after the app's own output that
    // some messages end with ("Its output ended with: …").
    const [head, ...rest] = String(err.message).split('\n');
    const code = err.code ? ` (${err.code})` : '';
    process.stderr.write(`unpinned check: ${head}${code}\n${rest.map((line) => `${line}\n`).join('')}`);
    return 2;
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
  }
}

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('run your app as replicas, replay a recorded journey, and find state kept in one process')
    .requiredOption('--app <command>', 'your app server; it gets PORT, REDIS_URL, TMPDIR and HOME of its own')
    .option('--har <file>', 'the journey, recorded as HAR 1.2 (browser devtools, Playwright recordHar)')
    .option('--script <file>', 'the journey, written as a module (see docs/check.md)')
    .option('--replicas <n>', 'replicas to rotate the steps over', '3')
    .option('--json <file>', 'write the result as JSON (- for stdout)')
    .option('--har-out <dir>', 'write every run as a HAR file')
    .option('--redis <url>', 'the Redis the replicas share (default: a private redis-server)')
    .option(
      '--env <KEY=VALUE>',
      'environment for every replica (repeatable)',
      (v: string, all: string[]) => [...all, v],
      [],
    )
    .option('--ready <path>', 'a path that answers 2xx when the app is ready (default: any answer on /)')
    .option('--origin <url>', "the app's origin in the recording (default: the first page's)")
    .option('--start-timeout <s>', 'seconds each replica may take to become ready', '20')
    // Usage errors are exit code 2, like setup errors; only the verdict uses 0 and 1.
    .exitOverride((err) => {
      process.exit(err.exitCode === 0 ? 0 : 2);
    })
    .action(async (flags: CheckFlags) => {
      process.exit(await runCheck(flags));
    });
}
