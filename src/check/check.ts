/**
 * `unpinned check`: is this app ready to run without sticky sessions?
 *
 * The journey runs twice with every step on one fresh replica (what varies
 * between those runs is noise), then with each step on the next replica and one
 * replica restarted between steps. The first step that answers differently
 * beyond noise is the finding. Before it is reported, a third single-replica run
 * rules out noise the first two did not show, and two probes tell a stale cache
 * and a file on disk from state in memory. Every run gets fresh replicas and an
 * empty shared Redis, so runs differ only by their plan.
 *
 * Trade-off: runs are sequential (they share the one Redis a fleet would have),
 * so a check costs three to six replays of the journey.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { findRedisServer, RedisServer } from '../system/redis-server.js';
import { Watchdog } from '../system/watchdog.js';
import { firstDivergence, learn, type StepSummary, stepSummaries } from './compare.js';
import { CheckError } from './errors.js';
import { assertReplays, explain, type Finding, type Runner } from './finding.js';
import { readHar } from './har.js';
import { type HarJourney, harJourney, type Skipped } from './har-journey.js';
import { writeRunHar } from './har-out.js';
import type { Machine, MachineOptions } from './machine.js';
import { type Journey, type Plan, type Run, type RunContext, runPlan } from './replay.js';
import { type CheckWarning, checkWarnings } from './report.js';
import { scriptJourney } from './script-journey.js';
import { storeKeys } from './store-keys.js';
import { scratchParent, workdirSize } from './workdir.js';

export interface CheckOptions {
  /** The app's server, a shell command line; it must listen on process.env.PORT. */
  app: string;
  /** A HAR 1.2 recording of the journey. */
  har?: string;
  /** A journey written in code (see script-journey.ts). */
  script?: string;
  /** Replicas of the rotation (default 3). */
  replicas?: number;
  /** Use this Redis (REDIS_URL) instead of a private redis-server. */
  redis?: string;
  /** More environment for every replica. */
  env?: Record<string, string>;
  /** A path that answers 2xx when the app is ready (default: any answer on `/`). */
  ready?: string;
  /** The working directory each replica gets a copy of (default: the current one). */
  cwd?: string;
  /** The app's origin in the recording (default: the first request's). */
  origin?: string;
  startTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** Write each run as a HAR file into this directory. */
  harOut?: string;
  /** Progress lines (default: none). */
  progress?: (line: string) => void;
  /** Aborting stops every replica and the private Redis, then rejects. */
  signal?: AbortSignal;
}

export type { Finding, StepSummary };

export interface CheckResult {
  verdict: 'stateless' | 'stateful';
  replicas: number;
  steps: StepSummary[];
  findings: Finding[];
  /** What the verdict does not cover (WebSockets, a journey mostly skipped); empty when nothing. */
  warnings: CheckWarning[];
  journey: { source: string; kind: 'har' | 'script'; steps: number; skipped: Skipped[] };
  restart: { beforeStep: number; replica: string } | null;
  noise: { masked: number };
  runs: { name: string; steps: number; ms: number }[];
  ms: number;
}

/**
 * Runs the check; resolves with the verdict and the findings.
 *
 * @example
 * const result = await check({ app: 'node server.js', har: 'journey.har' });
 * if (result.verdict === 'stateful') console.log(result.findings[0].culprit);
 */
export async function check(options: CheckOptions): Promise<CheckResult> {
  const t0 = performance.now();
  const progress = options.progress ?? (() => {});
  const replicas = options.replicas ?? 3;
  if (!Number.isInteger(replicas) || replicas < 2 || replicas > 16) {
    throw new CheckError(
      'UNPINNED_ERR_CHECK_USAGE',
      `--replicas must be an integer from 2 to 16, got ${options.replicas}.`,
    );
  }
  if (Boolean(options.har) === Boolean(options.script)) {
    throw new CheckError(
      'UNPINNED_ERR_CHECK_USAGE',
      'Give the journey as exactly one of --har <file> or --script <file>.',
    );
  }
  const journey: Journey & Partial<HarJourney> = options.har
    ? harJourney(readHar(options.har), options.har, options.origin)
    : await scriptJourney(options.script!);
  const source = (options.har ?? options.script)!;
  if (journey.steps) {
    const skipped = journey.skipped ?? [];
    progress(
      `${journey.steps.length} steps from ${source}${skipped.length ? ` (${skipped.length} skipped: ${summarizeSkipped(skipped)})` : ''}, ${replicas} replicas`,
    );
  }

  const started = new Set<Machine>();
  let redis: RedisServer | null = null;
  const cwd = options.cwd ?? process.cwd();
  // The rotation's replicas hold a copy each at once; twice that leaves room for what they write.
  const root = mkdtempSync(join(scratchParent(workdirSize(cwd) * replicas * 2), 'unpinned-check-'));
  // As for `unpinned up`: if this process is killed outright (SIGKILL, an OOM kill, a CI job
  // cancelled), the watchdog still stops the replicas and the Redis and removes the copies.
  const watchdog = Watchdog.start();
  watchdog.keep(root);
  const cleanup = async () => {
    await Promise.allSettled([...started].map((m) => m.dispose()));
    await redis?.close();
    redis = null;
    rmSync(root, { recursive: true, force: true });
    watchdog.release(root);
    await watchdog.close();
  };
  // Stopping the replicas at once makes whatever the run waits for fail fast; the run then
  // sees the signal and ends, and the cleanup below removes the rest.
  options.signal?.addEventListener('abort', () => {
    void Promise.allSettled([...started].map((m) => m.dispose()));
  });
  const runs: Run[] = [];
  try {
    const work = (async () => {
      let redisUrl = options.redis;
      if (!redisUrl) {
        if (!findRedisServer()) {
          throw new CheckError(
            'UNPINNED_ERR_CHECK_NO_REDIS',
            'redis-server is not on PATH: install it (apt-get install -y redis-server) or pass --redis <url> for the Redis the replicas share.',
          );
        }
        redis = await RedisServer.start({ watchdog });
        redisUrl = redis.url;
        progress(`shared Redis for the replicas: ${redisUrl} (REDIS_URL)`);
      }
      const machine: MachineOptions = {
        command: options.app,
        cwd,
        env: { REDIS_URL: redisUrl, ...options.env },
        readyPath: options.ready ?? null,
        startTimeoutMs: options.startTimeoutMs ?? 20_000,
        root,
        watchdog,
      };
      const context: RunContext = {
        machine,
        // A restart of a private server without persistence: every run starts from an empty Redis.
        resetStore: async () => {
          if (redis) await redis.restart();
        },
        timeoutMs: options.requestTimeoutMs ?? 10_000,
        started,
        ...(options.signal && { signal: options.signal }),
      };
      const run = async (plan: Plan, what: string) => {
        progress(`${what}…`);
        const result = await runPlan(plan, journey, context);
        runs.push(result);
        progress(
          `  ${result.records.length} steps in ${(result.ms / 1000).toFixed(1)} s${result.aborted ? ` (stopped: ${result.aborted})` : ''}`,
        );
        return result;
      };
      // Read from the private Redis only: a user's own is not listed key by key.
      const keys = async () => (redis ? storeKeys(redis.url) : null);
      return decide(replicas, run, journey, source, progress, keys);
    })();
    const decided = await work
      .catch((error: unknown) => {
        throw options.signal?.aborted ? new Error('the check was interrupted', { cause: error }) : error;
      })
      .finally(() => {
        // Also when the check stops with a setup error: "the app rejects step 9" is when the
        // runs so far are most worth reading.
        if (options.harOut) for (const r of runs) writeRunHar(options.harOut, r);
      });
    // The promised fields first, in the order the documentation shows them.
    const { verdict, replicas: _, steps, findings, ...rest } = decided;
    return {
      verdict,
      replicas,
      steps,
      findings,
      ...rest,
      runs: runs.map((r) => ({ name: r.plan.name, steps: r.records.length, ms: r.ms })),
      ms: Math.round(performance.now() - t0),
    };
  } finally {
    await cleanup();
  }
}

function summarizeSkipped(skipped: Skipped[]): string {
  const reasons = new Map<string, number>();
  for (const s of skipped) reasons.set(s.reason, (reasons.get(s.reason) ?? 0) + 1);
  return [...reasons].map(([reason, n]) => `${n} × ${reason}`).join('; ');
}

async function decide(
  replicas: number,
  run: Runner,
  journey: Journey & Partial<HarJourney>,
  source: string,
  progress: (line: string) => void,
  keys: () => Promise<string[] | null>,
): Promise<Omit<CheckResult, 'runs' | 'ms'>> {
  const names = Array.from({ length: replicas }, (_, i) => `replica-${i + 1}`);
  const single = (name: string, plan: string): Plan => ({ name: plan, machines: [name], route: () => name });
  const reference = await run(
    single(names[0]!, 'baseline-1'),
    `single-replica run 1 of 2: every step on ${names[0]}`,
  );
  if (reference.records.length === 0) {
    throw new CheckError(
      'UNPINNED_ERR_CHECK_SCRIPT_INVALID',
      `${source} made no request: a journey needs at least one step.`,
    );
  }
  assertReplays(reference);
  const second = await run(
    single(names[1]!, 'baseline-2'),
    `single-replica run 2 of 2: every step on ${names[1]}`,
  );
  const steps = reference.records.length;
  // The first replica to serve a second step is restarted just before it: what it kept in memory is gone.
  const restart = steps > replicas ? { step: replicas, machine: names[0]! } : null;
  const rotation: Plan = {
    name: 'rotation',
    machines: names,
    route: (step) => names[step % replicas]!,
    restarts: restart ? [restart] : [],
    tolerant: true,
  };
  const rotated = await run(
    rotation,
    `rotation: step 1 on ${names[0]}, step 2 on ${names[1]}, and so on over ${replicas} replicas${restart ? `; ${restart.machine} restarted before step ${restart.step + 1}` : ''}`,
  );
  // What the rotation left in the shared store, before the next run empties it.
  const shared = await keys();
  let baselines = [second];
  let models = learn(reference, baselines);
  let divergence = firstDivergence(models, reference, rotated);
  if (divergence) {
    progress(`  step ${divergence.step + 1} differs; ruling out noise with a third single-replica run`);
    const third = await run(
      single(names[2 % replicas]!, 'baseline-3'),
      `single-replica run 3: every step on ${names[2 % replicas]}`,
    );
    baselines = [second, third];
    models = learn(reference, baselines);
    divergence = firstDivergence(models, reference, rotated);
  }
  const summary = stepSummaries(models, reference, rotated);
  const common = {
    replicas,
    steps: summary,
    warnings: checkWarnings({ steps, skipped: journey.skipped ?? [] }, journey.origin),
    journey: {
      source,
      kind: journey.steps ? ('har' as const) : ('script' as const),
      steps,
      skipped: journey.skipped ?? [],
    },
    restart: restart ? { beforeStep: restart.step + 1, replica: restart.machine } : null,
    noise: { masked: models.reduce((n, m) => n + m.noise, 0) },
  };
  if (!divergence) return { verdict: 'stateless', findings: [], ...common };
  const finding = await explain(divergence, { reference, rotated, models, rotation, run, names, shared });
  return { verdict: 'stateful', findings: [finding], ...common };
}
