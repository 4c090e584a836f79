/**
 * `npm run bench:session`: one Express app three ways on the same private
 * Redis, measured in the same run and interleaved: no sessions, unpinned, and
 * express-session + connect-redis. Two mixes: read-only, and one write in five.
 * Prints a table, writes bench/results/session.json, and ends with one JSON line.
 *
 * Method: each app runs in its own process; autocannon (50 connections) drives
 * it from this process; 200 logged-in users' cookies rotate across requests.
 * Rounds alternate the variants so drift of this shared machine hits all alike;
 * the reported figure is the median round.
 *
 * `BENCH_OTEL=1` runs every app process with a real OpenTelemetry SDK registered (bench/otel-on.ts):
 * the cost of OTel on. Such a run writes bench/results/session-otel.json and the "OpenTelemetry"
 * section of docs/benchmarks.md, never the published off figures.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { newHistogram } from '../src/lab/recorder.js';
import { RedisServer } from '../src/system/redis-server.js';
import { otelNodeArgs, otelOn } from './otel.js';
import { writeOtelSection } from './otel-report.js';
import { writeSessionSection } from './session-report.js';

const here = dirname(fileURLToPath(import.meta.url));
const VARIANTS = ['none', 'bare', 'unpinned', 'express-session'] as const;
type Variant = (typeof VARIANTS)[number];
const KEYS: Record<Variant, string> = {
  none: 'none',
  bare: 'bareHgetall',
  unpinned: 'unpinned',
  'express-session': 'expressSession',
};
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const USERS = 200;

interface App {
  variant: Variant;
  port: number;
  child: ChildProcess;
  cookies: string[];
}

async function startApp(variant: Variant, redisUrl: string): Promise<App> {
  const child = spawn(
    process.execPath,
    [...otelNodeArgs(here), join(here, 'session-app.js'), variant, redisUrl],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
    child.once('exit', (code) => reject(new Error(`${variant} app exited with ${code}`)));
  });
  const cookies: string[] = [];
  for (let i = 0; i < USERS; i++) {
    const res = await fetch(`http://127.0.0.1:${port}/login`, { method: 'POST' });
    const setCookie = res.headers.get('set-cookie');
    cookies.push(setCookie ? setCookie.split(';')[0]! : '');
  }
  return { variant, port, child, cookies };
}

interface Run {
  rps: number;
  p99Ms: number;
  /** p99 of this run in µs, from every response's own duration (HdrHistogram, 3 digits). */
  p99Us: number;
  errors: number;
  /** CPU time the app process spent per request, in µs (Linux /proc; NaN elsewhere). */
  cpuUsPerRequest: number;
}

/** User+system CPU of a process in ms, from /proc (clock ticks of 10 ms). */
function processCpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return Number.NaN;
  }
}

function load(app: App, mix: 'readOnly' | 'mixed', seconds: number): Promise<Run> {
  let n = 0;
  const requests: autocannon.Request[] = [
    {
      setupRequest: (req) => {
        n++;
        const write = mix === 'mixed' && n % 5 === 0;
        return {
          ...req,
          method: write ? 'POST' : 'GET',
          path: write ? '/seen' : '/cart',
          headers: { cookie: app.cookies[n % app.cookies.length]! },
        };
      },
    },
  ];
  const cpuBefore = processCpuMs(app.child.pid!);
  const started = performance.now();
  // autocannon's own histogram holds whole milliseconds; each response event carries its
  // duration as a fraction of a millisecond, which is what a sub-millisecond p99 needs.
  const histogram = newHistogram();
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      { url: `http://127.0.0.1:${app.port}`, connections: 50, duration: seconds, requests },
      (error: Error | null, result: autocannon.Result) => {
        if (error) return reject(error);
        const elapsed = (performance.now() - started) / 1000;
        const total = result.requests.total;
        resolve({
          rps: total / elapsed,
          p99Ms: result.latency.p99,
          p99Us: histogram.getValueAtPercentile(99),
          errors: result.errors + result.non2xx + result.timeouts,
          cpuUsPerRequest: ((processCpuMs(app.child.pid!) - cpuBefore) * 1000) / total,
        });
        histogram.destroy();
      },
    );
    instance.on('response', (_client: unknown, _status: number, _bytes: number, ms: number) => {
      histogram.recordValue(Math.max(1, Math.round(ms * 1000)));
    });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

type Mix = 'readOnly' | 'mixed';
const MIXES: Mix[] = ['readOnly', 'mixed'];

/**
 * Median over rounds of `a`'s CPU per request divided by `b`'s in the same round: the two ran
 * back to back, so drift of the machine between rounds cancels out of each ratio.
 */
function paired(runs: Record<Variant, Run[]>, a: Variant, b: Variant): number {
  const ratios = runs[a].map((run, i) => run.cpuUsPerRequest / runs[b][i]!.cpuUsPerRequest);
  return Math.round(median(ratios) * 1000) / 1000;
}

function summarize(runs: Record<Mix, Record<Variant, Run[]>>) {
  const pick = (mix: Mix, f: (r: Run) => number) =>
    Object.fromEntries(VARIANTS.map((v) => [KEYS[v], Math.round(median(runs[mix][v].map(f)) * 10) / 10]));
  const out = {
    readOnly: pick('readOnly', (r) => Math.round(r.rps)),
    mixed: pick('mixed', (r) => Math.round(r.rps)),
    p99Ms: { readOnly: pick('readOnly', (r) => r.p99Ms), mixed: pick('mixed', (r) => r.p99Ms) },
    p99Us: { readOnly: pick('readOnly', (r) => r.p99Us), mixed: pick('mixed', (r) => r.p99Us) },
    cpuUsPerRequest: {
      readOnly: pick('readOnly', (r) => r.cpuUsPerRequest),
      mixed: pick('mixed', (r) => r.cpuUsPerRequest),
    },
  };
  const ratio = (a: number | undefined, b: number | undefined) => Math.round((a! / b!) * 100) / 100;
  return {
    otel: otelOn(),
    ...out,
    // Throughput ratios, and the same comparison by app CPU per request (the
    // steadier figure on a shared machine: a ratio > 1 means unpinned is cheaper).
    ratios: Object.fromEntries(
      MIXES.flatMap((mix) => [
        [`${mix}VsExpressSession`, ratio(out[mix].unpinned, out[mix].expressSession)],
        [`${mix}VsNone`, ratio(out[mix].unpinned, out[mix].none)],
        [
          `${mix}CpuVsExpressSession`,
          ratio(out.cpuUsPerRequest[mix].expressSession, out.cpuUsPerRequest[mix].unpinned),
        ],
        [`${mix}CpuVsNone`, ratio(out.cpuUsPerRequest[mix].none, out.cpuUsPerRequest[mix].unpinned)],
      ]),
    ),
    // unpinned's CPU per request over the floor's (target <= 1.05) and over express-session's,
    // each the median of per-round ratios.
    pairedVsFloor: paired(runs.readOnly, 'unpinned', 'bare'),
    paired: Object.fromEntries(
      MIXES.flatMap((mix) => [
        [`${mix}VsFloor`, paired(runs[mix], 'unpinned', 'bare')],
        [`${mix}VsExpressSession`, paired(runs[mix], 'unpinned', 'express-session')],
        [`${mix}VsNone`, paired(runs[mix], 'unpinned', 'none')],
      ]),
    ),
    method: {
      connections: 50,
      seconds: SECONDS,
      rounds: ROUNDS,
      users: USERS,
      node: process.version,
      date: new Date().toISOString(),
    },
  };
}

function table(output: ReturnType<typeof summarize>): string {
  const lines = ['| mix | variant | req/s | p99 µs | app CPU µs/req |', '| --- | --- | --- | --- | --- |'];
  for (const mix of MIXES) {
    for (const v of VARIANTS) {
      const k = KEYS[v];
      lines.push(
        `| ${mix} | ${v} | ${output[mix][k]} | ${output.p99Us[mix][k]} | ${output.cpuUsPerRequest[mix][k]} |`,
      );
    }
  }
  return lines.join('\n');
}

if (otelOn())
  process.stderr.write(`OpenTelemetry on in the app processes (BENCH_OTEL=${process.env.BENCH_OTEL})\n`);
const redis = await RedisServer.start();
const apps = await Promise.all(VARIANTS.map((v) => startApp(v, redis.url)));
try {
  for (const app of apps) await load(app, 'mixed', 2); // warm up JIT and pools
  const runs = Object.fromEntries(
    MIXES.map((m) => [m, Object.fromEntries(VARIANTS.map((v) => [v, []]))]),
  ) as unknown as Record<Mix, Record<Variant, Run[]>>;
  for (let round = 0; round < ROUNDS; round++) {
    for (const mix of MIXES) {
      // Alternate the order so drift of the machine does not favour one variant.
      for (const app of round % 2 ? [...apps].reverse() : apps) {
        const run = await load(app, mix, SECONDS);
        if (run.errors > 0) throw new Error(`${app.variant} had ${run.errors} failed requests in ${mix}`);
        runs[mix][app.variant].push(run);
        process.stderr.write(
          `round ${round + 1} ${mix} ${app.variant}: ${run.rps.toFixed(0)} req/s, p99 ${run.p99Us} µs, ${run.cpuUsPerRequest.toFixed(1)} µs CPU/req\n`,
        );
      }
    }
  }
  const output = summarize(runs);
  console.log(table(output));
  // A shortened run (to try the benchmark) is not the recorded result.
  if (ROUNDS >= 3 && SECONDS >= 5) {
    const root = join(here, '..', '..');
    const resultsDir = join(root, 'bench', 'results');
    mkdirSync(resultsDir, { recursive: true });
    const file = output.otel ? 'session-otel.json' : 'session.json';
    writeFileSync(join(resultsDir, file), `${JSON.stringify(output, null, 2)}\n`);
    if (output.otel) writeOtelSection(root);
    else writeSessionSection(root, output);
  } else process.stderr.write('a shortened run: bench/results and docs/benchmarks.md left as they were\n');
  console.log(JSON.stringify(output));
} finally {
  for (const app of apps) app.child.kill('SIGTERM');
  await redis.close();
}
