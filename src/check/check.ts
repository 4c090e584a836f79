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
import { type CulpritId, culprits, diagnose, type Probes, writerOf } from './culprits.js';
import { CheckError } from './errors.js';
import { type Facts, mediaType } from './facts.js';
import { readHar } from './har.js';
import { type HarJourney, harJourney, type Skipped } from './har-journey.js';
import { writeRunHar } from './har-out.js';
import { scanHtml } from './html.js';
import type { Machine, MachineOptions } from './machine.js';
import { compareStep, type Difference, learnStep, type StepModel } from './noise.js';
import { type Journey, type Plan, type Run, type RunContext, runPlan, type StepRecord } from './replay.js';
import { scriptJourney } from './script-journey.js';
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

export interface StepSummary {
  step: number;
  request: string;
  url: string;
  replica: string;
  restarted: boolean;
  status: number;
  expectedStatus: number;
  same: boolean;
  /** Values masked as noise at this step. */
  noise: number;
  /** Values taken from earlier live answers. */
  correlated: number;
}

export interface Finding {
  step: number;
  request: string;
  kind: Difference['kind'];
  expected: string | number | null;
  got: string | number | null;
  wroteOn: string | null;
  readOn: string;
  culprit: string;
  fix: string;
  culpritId: CulpritId;
  /** The fact that differed (`status`, `json$.cart.tea`, a text node). */
  key: string;
  writtenAtStep: number | null;
  /** The reading replica had been restarted just before this step. */
  restarted: boolean;
  /** The two answers in a line each: status, redirect target or the start of the body. */
  expectedResponse: string;
  gotResponse: string;
  evidence: string[];
}

export interface CheckResult {
  verdict: 'stateless' | 'stateful';
  replicas: number;
  steps: StepSummary[];
  findings: Finding[];
  journey: { source: string; kind: 'har' | 'script'; steps: number; skipped: Skipped[] };
  restart: { beforeStep: number; replica: string } | null;
  noise: { masked: number };
  runs: { name: string; steps: number; ms: number }[];
  ms: number;
}

const empty: Facts = { scalar: new Map(), raw: new Map(), text: [] };

function learn(reference: Run, others: Run[]): StepModel[] {
  return reference.records.map((rec, i) =>
    learnStep(
      rec.facts,
      others.map((o) => {
        const other = o.records[i];
        // Another request at this step (a script that branched): nothing of it is comparable.
        return other && other.label === rec.label ? other.facts : empty;
      }),
    ),
  );
}

interface Divergence {
  step: number;
  difference: Difference;
}

function textKind(record: StepRecord): 'html' | 'text' {
  return /html/.test(mediaType(record.response.headers)) ? 'html' : 'text';
}

function compareAt(models: StepModel[], reference: Run, record: StepRecord): Difference | null {
  const expected = reference.records[record.step];
  if (!expected) return null;
  if (expected.label !== record.label) {
    return { kind: 'request', key: 'request', expected: expected.label, got: record.label };
  }
  return compareStep(models[record.step]!, record.facts, textKind(expected));
}

function firstDivergence(models: StepModel[], reference: Run, run: Run): Divergence | null {
  for (const record of run.records) {
    const difference = compareAt(models, reference, record);
    if (difference) return { step: record.step, difference };
  }
  const missing = reference.records[run.records.length];
  if (missing) {
    return {
      step: run.records.length,
      difference: {
        kind: 'journey',
        key: 'journey',
        expected: missing.label,
        got: run.aborted ?? 'the journey ended here',
      },
    };
  }
  return null;
}

function excerpt(record: StepRecord, length = 160): string {
  const text = record.response.body.toString('utf8');
  const visible = /html/.test(mediaType(record.response.headers)) ? scanHtml(text).text.join(' ') : text;
  return visible.replace(/\s+/g, ' ').trim().slice(0, length);
}

function responseLine(record: StepRecord | undefined): string {
  if (!record) return '(not sent)';
  const { status, statusText, headers } = record.response;
  const location = headers.find(([n]) => n === 'location')?.[1];
  const body = excerpt(record, 80);
  return `${status} ${statusText}${location ? ` → ${location}` : body ? `: ${body}` : ''}`;
}

/** A journey the app rejects on one replica cannot say anything about several. */
function assertReplays(run: Run, journey: Journey & Partial<HarJourney>): void {
  for (const record of run.records) {
    const recorded = record.input.recordedStatus;
    if (recorded === undefined || recorded <= 0 || recorded >= 400 || record.response.status < 400) continue;
    const missed = (record.input.correlated ?? []).filter((c) => !c.found);
    const hint = missed.length
      ? ` ${missed.map((c) => `${c.slot} (from step ${c.from + 1})`).join(', ')} could not be found in the live answers, so the recorded values were sent.`
      : '';
    const body = excerpt(record);
    throw new CheckError(
      'UNPINNED_ERR_CHECK_REJECTED',
      `The app rejects step ${record.step + 1} (${record.label}) even with every step on one replica: the recording shows ${recorded}, ${record.machine} answered ${record.response.status}${body ? ` (${body})` : ''}.${hint} A journey must replay on one replica before replicas can be compared: record it against this app and version, with response bodies ("Save all as HAR with content"), and give the app with --env what it had when recorded.`,
    );
  }
  void journey;
}

function display(kind: Difference['kind'], value: string | null): string | number | null {
  if (value === null) return null;
  if (kind === 'status' && /^\d+$/.test(value)) return Number(value);
  if (value.startsWith('s:')) return JSON.stringify(value.slice(2));
  if (value.startsWith('n:')) return value.slice(2);
  return value;
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
  const cleanup = async () => {
    await Promise.allSettled([...started].map((m) => m.dispose()));
    await redis?.close();
    redis = null;
    rmSync(root, { recursive: true, force: true });
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
        redis = await RedisServer.start();
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
      return decide(replicas, run, journey, source, progress);
    })();
    const decided = await work.catch((error: unknown) => {
      throw options.signal?.aborted ? new Error('the check was interrupted', { cause: error }) : error;
    });
    if (options.harOut) for (const r of runs) writeRunHar(options.harOut, r);
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

type Runner = (plan: Plan, what: string) => Promise<Run>;

async function decide(
  replicas: number,
  run: Runner,
  journey: Journey & Partial<HarJourney>,
  source: string,
  progress: (line: string) => void,
): Promise<Omit<CheckResult, 'runs' | 'ms'>> {
  const names = Array.from({ length: replicas }, (_, i) => `replica-${i + 1}`);
  const single = (name: string, plan: string): Plan => ({ name: plan, machines: [name], route: () => name });
  const reference = await run(
    single(names[0]!, 'baseline-1'),
    `single-replica run 1 of 2: every step on ${names[0]}`,
  );
  assertReplays(reference, journey);
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
  const finding = await explain(divergence, { reference, rotated, models, rotation, run, names });
  return { verdict: 'stateful', findings: [finding], ...common };
}

function stepSummaries(models: StepModel[], reference: Run, rotated: Run): StepSummary[] {
  return rotated.records.map((record) => ({
    step: record.step + 1,
    request: record.label,
    url: record.input.path,
    replica: record.machine,
    restarted: record.restarted,
    status: record.response.status,
    expectedStatus: reference.records[record.step]?.response.status ?? 0,
    same: compareAt(models, reference, record) === null,
    noise: models[record.step]?.noise ?? 0,
    correlated: record.input.correlated?.length ?? 0,
  }));
}

async function explain(
  divergence: Divergence,
  ctx: { reference: Run; rotated: Run; models: StepModel[]; rotation: Plan; run: Runner; names: string[] },
): Promise<Finding> {
  const { reference, rotated, models, rotation, run, names } = ctx;
  const k = Math.min(divergence.step, rotated.records.length - 1);
  const reader = rotated.records[k]!;
  const probes: Probes = { readerRestartedMatches: null, oneReplicaRestartedMatches: null };
  const probe = async (plan: Plan, what: string) => {
    try {
      const result = await run({ ...plan, stopAfter: k, tolerant: true }, what);
      const record = result.records[k];
      return record ? compareAt(models, reference, record) === null : false;
    } catch (error) {
      // A probe that cannot run leaves the question open; the finding stands without it.
      return error instanceof CheckError ? null : Promise.reject(error);
    }
  };
  if (divergence.difference.kind !== 'journey' && !/socket\.io/.test(reader.input.path)) {
    // One replica, restarted before the step: wrong again means the state was in memory.
    probes.oneReplicaRestartedMatches = await probe(
      {
        name: 'probe-one-replica',
        machines: [names[0]!],
        route: () => names[0]!,
        restarts: [{ step: k, machine: names[0]! }],
      },
      `probe: every step on ${names[0]}, restarted just before step ${k + 1}`,
    );
    // Right after a restart: on disk, or a stale copy the reading replica held. Restarting
    // just the reader tells them apart.
    if (probes.oneReplicaRestartedMatches) {
      const used = [...new Set(rotated.records.slice(0, k + 1).map((r) => r.machine))];
      probes.readerRestartedMatches = await probe(
        {
          ...rotation,
          name: 'probe-restart-reader',
          machines: names.filter((n) => used.includes(n)),
          restarts: [...(rotation.restarts ?? []), { step: k, machine: reader.machine }],
        },
        `probe: the rotation again, ${reader.machine} restarted just before step ${k + 1}`,
      );
    }
  }
  const { difference } = divergence;
  const diagnosis = diagnose({ reader, reference: reference.records[k]!, difference, probes });
  const writer = writerOf(rotated.records, k);
  return {
    step: divergence.step + 1,
    request: reference.records[divergence.step]?.label ?? reader.label,
    kind: difference.kind,
    expected: display(difference.kind, difference.expected),
    got: display(difference.kind, difference.got),
    wroteOn: writer?.machine ?? null,
    readOn: reader.machine,
    ...culprits[diagnosis.id],
    culpritId: diagnosis.id,
    key: difference.key,
    writtenAtStep: writer ? writer.step + 1 : null,
    restarted: reader.restarted,
    expectedResponse: responseLine(reference.records[divergence.step]),
    gotResponse: responseLine(rotated.records[divergence.step]),
    evidence: diagnosis.evidence,
  };
}
