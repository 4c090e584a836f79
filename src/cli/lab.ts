/**
 * `unpinned lab`: sticky versus stateless, measured side by side on the real
 * system (or, with --simulate, on a virtual clock for many servers and users).
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { StrategyName } from '../balancer/strategies/strategy.js';
import { checkClaims, formatClaims } from '../lab/claims.js';
import { jsonProgress, progressReporter } from '../lab/progress.js';
import { writeReport } from '../lab/report.js';
import { fullDefaults, quickDefaults, runLab } from '../lab/run.js';
import { LabError, scenarioIds } from '../lab/scenarios.js';
import { formatSimulation, simulate } from '../lab/simulate.js';
import { formatNotes, formatTable } from '../lab/table.js';
import { type Logger, lineLogger, logFormat } from '../observe/log.js';

interface LabFlags {
  quick?: boolean;
  json?: string;
  report?: string;
  scenario?: string[];
  strategy?: string;
  duration?: string;
  users?: string;
  servers?: string;
  seed?: string;
  simulate?: boolean;
  logFormat?: string;
}

const labStrategies = ['round-robin', 'least-connections', 'random', 'p2c'];

function positive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) {
    throw new LabError(
      'UNPINNED_ERR_LAB_INVALID_OPTION',
      `${name} must be a positive number, got "${value}".`,
    );
  }
  return n;
}

function checkStrategy(flags: LabFlags): void {
  if (flags.strategy && !labStrategies.includes(flags.strategy)) {
    throw new LabError(
      'UNPINNED_ERR_LAB_INVALID_OPTION',
      `--strategy must be one of ${labStrategies.join(', ')} (the stateless system's strategy), got "${flags.strategy}".`,
    );
  }
}

async function lab(flags: LabFlags): Promise<void> {
  if (logFormat(flags.logFormat) === 'json') {
    return labJson(
      flags,
      lineLogger('json', (line) => process.stdout.write(line)),
    );
  }
  checkStrategy(flags);
  if (flags.simulate) {
    const result = await simulate(simulateOptions(flags));
    if (flags.json) writeFileSync(flags.json, `${JSON.stringify(result, null, 2)}\n`);
    console.log(formatSimulation(result));
    return;
  }
  const progress = progressReporter();
  try {
    const result = await runLab({ ...labOptions(flags), onProgress: progress.onProgress });
    progress.stop();
    const claims = checkClaims(result);
    if (flags.json) writeFileSync(flags.json, `${JSON.stringify({ ...result, claims }, null, 2)}\n`);
    if (flags.report) writeReport(flags.report, { ...result, claims });
    console.log(formatTable(result));
    const notes = formatNotes(result);
    if (notes) console.log(`\n${notes}`);
    if (claims.length) console.log(`\nclaims (DESIGN.md §8):\n${formatClaims(claims)}`);
    if (flags.report) console.log(`\nreport: ${flags.report}/index.html`);
    console.log(
      '\ncheck your own app: unpinned check --app "node server.js" --har journey.har finds the state it keeps in one process (docs/check.md)',
    );
  } finally {
    progress.stop();
  }
}

function simulateOptions(flags: LabFlags) {
  return {
    servers: Math.round(positive('--servers', flags.servers, 200)),
    users: Math.round(positive('--users', flags.users, 1_000_000)),
    seed: Math.round(positive('--seed', flags.seed, 1)),
  };
}

function labOptions(flags: LabFlags) {
  const defaults = flags.quick ? quickDefaults : fullDefaults;
  return {
    ...(flags.scenario ? { scenarios: flags.scenario } : {}),
    ...(flags.strategy ? { strategy: flags.strategy as StrategyName } : {}),
    durationMs: positive('--duration', flags.duration, defaults.durationMs / 1000) * 1000,
    users: Math.round(positive('--users', flags.users, defaults.users)),
    thinkMs: defaults.thinkMs,
    seed: Math.round(positive('--seed', flags.seed, 1)),
  };
}

/**
 * `--log-format json`: every line on stdout is one pino line: the runs as they start and end, each
 * run's faults and supervisor events, the claims, the files written. The table is left out (the
 * same figures are in the lines, and in `--json`).
 */
async function labJson(flags: LabFlags, logger: Logger): Promise<void> {
  try {
    checkStrategy(flags);
    if (flags.simulate) {
      const result = await simulate(simulateOptions(flags));
      if (flags.json) writeFileSync(flags.json, `${JSON.stringify(result, null, 2)}\n`);
      const { strategies, ...run } = result;
      for (const s of strategies)
        logger.info({ ...s, servers: run.servers, users: run.users }, `simulated ${s.strategy}`);
      return;
    }
    const options = labOptions(flags);
    logger.info(
      { scenarios: options.scenarios ?? scenarioIds, durationMs: options.durationMs, users: options.users },
      'lab: started',
    );
    const result = await runLab({ ...options, logger, onProgress: jsonProgress(logger) });
    const claims = checkClaims(result);
    for (const c of claims) {
      const fields = { scenario: c.scenario, claim: c.claim, held: c.held, evidence: c.evidence };
      if (c.held) logger.info(fields, `claim held: ${c.scenario}: ${c.claim}`);
      else logger.error(fields, `claim FAILED: ${c.scenario}: ${c.claim}`);
    }
    if (flags.json) {
      writeFileSync(flags.json, `${JSON.stringify({ ...result, claims }, null, 2)}\n`);
      logger.info({ file: flags.json }, 'results written');
    }
    if (flags.report) {
      const index = writeReport(flags.report, { ...result, claims });
      logger.info({ file: index }, 'report written');
    }
    logger.info({ claims: claims.length, held: claims.filter((c) => c.held).length }, 'lab: done');
  } catch (error) {
    const e = error as Error & { code?: string };
    logger.error({ code: e.code ?? null }, e.message);
    process.exitCode = 1;
  }
}

export function registerLab(program: Command): void {
  program
    .command('lab')
    .description(
      'measure sticky versus stateless side by side: crashes, deploys, scaling, heavy users, outages, realtime',
    )
    .option('--quick', 'short runs: every scenario on both architectures in about two minutes')
    .option('--json <file>', 'write the results as JSON')
    .option('--report <dir>', 'write an HTML report with charts (readable offline)')
    .option('--scenario <id...>', `run only these scenarios (${scenarioIds.join(', ')})`)
    .option(
      '--strategy <name>',
      `strategy of the stateless system (${labStrategies.join(', ')}; default p2c)`,
    )
    .option('--duration <s>', 'load duration of each run in seconds')
    .option('--users <n>', 'virtual users (with --simulate: simulated users, default 1000000)')
    .option('--servers <n>', 'with --simulate: simulated servers (default 200)')
    .option('--seed <n>', 'seed of the user model (same seed, same load)')
    .option('--simulate', 'run the strategies on a virtual clock for many servers and users')
    .option('--log-format <format>', 'json (pino-shaped lines on stdout, no table) or pretty (default)')
    .action((flags: LabFlags) => lab(flags));
}
