/**
 * `npm run soak`: the lab's virtual shoppers against `unpinned up` (a real child process: store,
 * three shop servers, the balancer) for `SOAK_MINUTES` (default 30), with the faults of a real
 * week compressed: a server killed every 5 minutes, a rolling deploy every 10, the strategy
 * switched every 6, the store restarted half-way. Every shopper checks every answer against
 * what it did (the lab's oracle), so sessions and cart items lost are counted exactly.
 *
 * Once a second it samples the RSS of every process (/proc) and the heap of `unpinned up`
 * (its status); memory growth is the least-squares slope of RSS (per-minute medians) after a warm-up, in MB per
 * hour: for `up` after the first fifth of the run (at most 5 minutes); for app servers, over
 * each server process's own life after its first minute, for lives of 3 minutes or more (a
 * rolling deploy replaces them all), reported as the median and the largest. The balancer runs
 * inside `up`'s process, so `balancer` and `supervisor` are the same figure.
 *
 * Last line: `{"minutes","requests","failed","sessionsLost","itemsLost","rssGrowthMbPerHour":
 * {"balancer","app","supervisor"},...}`. Writes bench/results/soak.json and the "Soak" section
 * of docs/benchmarks.md (only for runs of 10 minutes or more).
 *
 * `SOAK_FAULTS=0`: the same load without faults (section "Soak without faults", results in
 * soak-steady.json), so app servers live the whole run. `SOAK_FROM=<saved json>`: analyse a saved
 * run again without running anything. `SOAK_HEAP_SNAPSHOTS=1`: a heap snapshot of `unpinned up`
 * just before the warm-up ends and one at the end (bench/results/heap/), compared by
 * `node dist/bench/heap-diff.js <first> <last>` to name what grew.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { seededRandom } from '../src/balancer/clock.js';
import { drawThink, step } from '../src/lab/load.js';
import { VirtualUser } from '../src/lab/virtual-user.js';
import type { SystemStatus } from '../src/system/supervisor.js';
import { children, freePort, runBenchmark } from './children.js';
import { writeDocSection } from './doc-section.js';

const here = new URL('.', import.meta.url).pathname; // dist/bench/
const root = join(here, '..', '..');
// SOAK_FROM=<a saved bench/results/soak*.json>: no run, the saved samples analysed again (and
// the section rewritten), for when the analysis changes after a long run.
const saved = process.env.SOAK_FROM
  ? (JSON.parse(readFileSync(process.env.SOAK_FROM, 'utf8')) as Summary & { samples: Sample[] })
  : null;
const minutes = saved?.minutes ?? Number(process.env.SOAK_MINUTES ?? 30);
const users = saved?.users ?? Number(process.env.SOAK_USERS ?? 24);
const thinkMs = saved?.thinkMs ?? Number(process.env.SOAK_THINK_MS ?? 150);
// SOAK_FAULTS=0: the same load with no faults, so every process lives the whole run and memory
// growth is measured over long lives (with faults, app servers are replaced every few minutes).
const withFaults = saved ? saved.faultsOn !== false : process.env.SOAK_FAULTS !== '0';
const section = withFaults ? 'soak' : 'soak-steady';
const durationMs = minutes * 60_000;
const strategies = ['round-robin', 'least-connections', 'p2c', 'random'] as const;
const warmMs = Math.min(durationMs / 5, 5 * 60_000);
// SOAK_HEAP_SNAPSHOTS=1: `up` writes a heap snapshot on SIGUSR2 into this directory.
const heapDir = process.env.SOAK_HEAP_SNAPSHOTS === '1' ? join(root, 'bench', 'results', 'heap') : null;

interface Sample {
  t: number;
  up: number;
  upHeap: number;
  store: number | null;
  apps: Record<string, number>;
}

async function main(): Promise<void> {
  if (saved) {
    const { samples, ...summary } = saved;
    return report({ ...summary, ...growthFields(samples) }, samples);
  }
  const port = await freePort();
  const controlPort = await freePort();
  if (heapDir) mkdirSync(heapDir, { recursive: true });
  const up = spawn(
    process.execPath,
    [
      ...(heapDir ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${heapDir}`] : []),
      join(root, 'dist/src/cli/index.js'),
      'up',
      '--port',
      String(port),
      '--control-port',
      String(controlPort),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  children.push(up);
  up.stdout!.resume();
  const base = `http://127.0.0.1:${port}`;
  const control = `http://127.0.0.1:${controlPort}`;
  await until(async () => (await status(control).catch(() => null)) !== null, 60_000, 'unpinned up started');
  console.log(
    `machine: ${cpus().length} cores, Node ${process.version}, load average ${loadavg()[0]!.toFixed(2)}`,
  );
  console.log(
    `soak: ${minutes} min, ${users} shoppers, think ${thinkMs} ms, ${withFaults ? 'with faults' : 'no faults'}, unpinned up pid ${up.pid}`,
  );

  const started = performance.now();
  const elapsed = () => performance.now() - started;
  const samples: Sample[] = [];
  const sampler = setInterval(() => {
    void status(control)
      .then((s) => samples.push(sample(elapsed(), s)))
      .catch(() => {});
  }, 1_000);
  const faults = withFaults ? scheduleFaults(control, elapsed) : noFaults();
  // The first snapshot half a minute before the measured window opens: writing one takes memory
  // that the allocator may keep, a step that must not fall inside the slope.
  let firstSnapshot: Promise<string | null> = Promise.resolve(null);
  const snapshotTimer = heapDir
    ? setTimeout(() => {
        firstSnapshot = heapSnapshot(up.pid!, heapDir, control);
      }, warmMs - 30_000)
    : null;
  const shoppers = Array.from({ length: users }, (_, i) => new VirtualUser(base, `soak-${i}`));
  await Promise.all(shoppers.map((u) => u.login()));
  const progress = setInterval(() => {
    const t = tally(shoppers);
    console.log(
      `  ${(elapsed() / 60_000).toFixed(1)} min  requests ${t.requests}  failed ${t.failed}  sessions lost ${t.sessionsLost}  items lost ${t.itemsLost}`,
    );
  }, 60_000);
  await Promise.all(
    shoppers.map(async (user, i) => {
      const random = seededRandom(7919 + i);
      // Bounded by the run's length (and a request cap far above what the think time allows).
      for (let n = 0; elapsed() < durationMs && n < (durationMs / thinkMs) * 4; n++) {
        await step(user, random);
        // Think time is part of the modelled load, not a wait for a condition.
        await new Promise((resolve) => setTimeout(resolve, drawThink(random, thinkMs)));
      }
      if (user.loggedIn) await user.look();
    }),
  );
  clearInterval(progress);
  faults.stop();
  clearInterval(sampler);
  await faults.idle;
  if (snapshotTimer) clearTimeout(snapshotTimer);
  if (heapDir) {
    const first = await firstSnapshot;
    const last = await heapSnapshot(up.pid!, heapDir, control);
    if (first && last) console.log(`heap snapshots: node dist/bench/heap-diff.js ${first} ${last}`);
  }
  const summary: Summary = {
    minutes,
    ...tally(shoppers),
    ...growthFields(samples),
    faultsOn: withFaults,
    faults: faults.log,
    failures: failuresOf(shoppers),
    users,
    thinkMs,
    loadAverage: Number(loadavg()[0]!.toFixed(2)),
  };
  report(summary, samples);
}

interface Summary {
  minutes: number;
  faultsOn?: boolean;
  requests: number;
  failed: number;
  sessionsLost: number;
  itemsLost: number;
  rssGrowthMbPerHour: { balancer: number | null; app: number | null; supervisor: number | null };
  appGrowthMaxMbPerHour: number | null;
  upHeapGrowthMbPerHour: number | null;
  rssMb: { upStart: number; upEnd: number };
  faults: { atMin: number; fault: string; ok: boolean }[];
  failures: Record<string, number>;
  users: number;
  thinkMs: number;
  loadAverage: number;
}

function growthFields(samples: Sample[]) {
  const growth = growthOf(samples);
  return {
    rssGrowthMbPerHour: { balancer: growth.up, app: growth.appMedian, supervisor: growth.up },
    appGrowthMaxMbPerHour: growth.appMax,
    upHeapGrowthMbPerHour: growth.upHeap,
    rssMb: { upStart: growth.upStart, upEnd: growth.upEnd },
  };
}

function report(summary: Summary, samples: Sample[]): void {
  mkdirSync(join(root, 'bench', 'results'), { recursive: true });
  writeFileSync(
    join(root, 'bench', 'results', `${section}.json`),
    `${JSON.stringify({ ...summary, samples }, null, 1)}\n`,
  );
  if (minutes >= 10) writeDocSection(root, section, renderSection(summary));
  console.log(JSON.stringify(summary));
}

function sample(t: number, s: SystemStatus): Sample {
  const apps: Record<string, number> = {};
  for (const server of s.servers) {
    const rss = server.pid ? rssMb(server.pid) : null;
    if (rss !== null) apps[String(server.pid)] = rss;
  }
  return {
    t: Math.round(t),
    up: s.process.rssBytes / 2 ** 20,
    upHeap: s.process.heapUsedBytes / 2 ** 20,
    store: s.store.pid ? rssMb(s.store.pid) : null,
    apps,
  };
}

/** The faults, each on its own period, one at a time (the control API runs them in order). */
function scheduleFaults(control: string, elapsed: () => number) {
  const log: { atMin: number; fault: string; ok: boolean }[] = [];
  let chain: Promise<unknown> = Promise.resolve();
  // What a fault does is decided when its turn comes: a kill queued behind a rolling deploy
  // must pick among the servers the deploy left, not the ones it replaced.
  const run = (what: () => Promise<{ fault: string; path: string; body: unknown } | null>) => {
    chain = chain.then(async () => {
      const next = await what();
      if (!next) return;
      const atMin = Number((elapsed() / 60_000).toFixed(2));
      const res = await post(control, next.path, next.body).catch(() => null);
      log.push({ atMin, fault: next.fault, ok: res?.ok === true });
      console.log(`  ${atMin} min  ${next.fault}${res?.ok ? '' : '  (failed)'}`);
    });
  };
  const timers: NodeJS.Timeout[] = [];
  let kills = 0;
  let switches = 0;
  timers.push(
    setInterval(() => {
      run(async () => {
        const s = await status(control).catch(() => null);
        const victim = s?.servers.filter((x) => x.state === 'up')[kills++ % 3]?.name;
        return victim ? { fault: `kill ${victim}`, path: '/kill', body: { server: victim } } : null;
      });
    }, 5 * 60_000),
    setInterval(() => run(async () => ({ fault: 'rolling deploy', path: '/deploy', body: {} })), 10 * 60_000),
    setInterval(() => {
      const strategy = strategies[++switches % strategies.length]!;
      run(async () => ({ fault: `strategy ${strategy}`, path: '/strategy', body: { strategy } }));
    }, 6 * 60_000),
    setTimeout(
      () => run(async () => ({ fault: 'store restart', path: '/restart-store', body: {} })),
      durationMs / 2,
    ),
  );
  return {
    log,
    stop: () => {
      for (const t of timers) clearInterval(t);
    },
    get idle() {
      return chain;
    },
  };
}

function noFaults() {
  return {
    log: [] as { atMin: number; fault: string; ok: boolean }[],
    stop: () => {},
    idle: Promise.resolve(),
  };
}

function tally(shoppers: VirtualUser[]) {
  const sum = (f: (u: VirtualUser) => number) => shoppers.reduce((n, u) => n + f(u), 0);
  return {
    requests: sum((u) => u.requests),
    failed: sum((u) => u.failed),
    sessionsLost: sum((u) => u.sessionsLost),
    itemsLost: sum((u) => u.itemsLost),
  };
}

function failuresOf(shoppers: VirtualUser[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const u of shoppers) for (const [k, v] of Object.entries(u.failures)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/**
 * Growth in MB per hour: the least-squares slope of the per-minute medians of (t ms, MB) points.
 * RSS of a V8 process is a sawtooth (the heap grows, a collection returns pages to the kernel), so
 * the slope of raw samples follows the dips; the median of each minute follows the level. Null for
 * fewer than 3 minutes.
 */
function slope(points: [number, number][]): number | null {
  const minutes = new Map<number, number[]>();
  for (const [t, mb] of points) {
    const m = Math.floor(t / 60_000);
    minutes.set(m, [...(minutes.get(m) ?? []), mb]);
  }
  const level = [...minutes].map(([m, mbs]) => {
    const sorted = [...mbs].sort((a, b) => a - b);
    return [(m + 0.5) * 60_000, sorted[Math.floor(sorted.length / 2)]!] as [number, number];
  });
  if (level.length < 3) return null;
  const n = level.length;
  const mx = level.reduce((a, p) => a + p[0], 0) / n;
  const my = level.reduce((a, p) => a + p[1], 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of level) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : Number(((num / den) * 3_600_000).toFixed(2));
}

function medianOf(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

function growthOf(samples: Sample[]) {
  const warm = warmMs;
  const after = samples.filter((s) => s.t >= warm);
  const lives = new Map<string, [number, number][]>();
  for (const s of samples)
    for (const [pid, mb] of Object.entries(s.apps)) lives.set(pid, [...(lives.get(pid) ?? []), [s.t, mb]]);
  const appSlopes = [...lives.values()]
    // Lives end every few minutes under faults: their first minute is their warm-up. Without
    // faults every server lives the whole run and gets the same warm-up as `up`.
    .map((points) => points.filter(([t]) => t >= (withFaults ? points[0]![0] + 60_000 : warm)))
    .filter((points) => points.length > 0 && points.at(-1)![0] - points[0]![0] >= 3 * 60_000)
    .map((points) => slope(points))
    .filter((v): v is number => v !== null)
    .sort((a, b) => a - b);
  return {
    up: slope(after.map((s) => [s.t, s.up])),
    upHeap: slope(after.map((s) => [s.t, s.upHeap])),
    appMedian: appSlopes.length ? appSlopes[Math.floor(appSlopes.length / 2)]! : null,
    appMax: appSlopes.length ? appSlopes.at(-1)! : null,
    // The level of the first minute after the warm-up and of the last minute (medians: see slope).
    upStart: Number(medianOf(after.filter((s) => s.t < after[0]!.t + 60_000).map((s) => s.up)).toFixed(1)),
    upEnd: Number(medianOf(after.filter((s) => s.t > after.at(-1)!.t - 60_000).map((s) => s.up)).toFixed(1)),
  };
}

function renderSection(s: Summary): string {
  const setup = [
    `\`${withFaults ? 'npm run soak' : 'SOAK_FAULTS=0 npm run soak'}\` (generated): ${s.minutes} minutes, ${s.users} virtual shoppers (think ${s.thinkMs} ms) against`,
    '`unpinned up` (private redis-server, three shop servers, the balancer inside the supervisor),',
  ];
  const faults = withFaults
    ? [
        'with a server killed every 5 minutes, a rolling deploy every 10, the strategy switched every 6 and the',
        `store restarted half-way (${s.faults.length} faults, ${s.faults.filter((f) => !f.ok).length} failed to run). Load average at the end: ${s.loadAverage}.`,
      ]
    : [
        "without faults: every process lives the whole run, so the app servers' growth is measured over",
        `${s.minutes} minutes (after the same warm-up as \`up\`'s) rather than the few minutes each lives under faults. Load average at the end: ${s.loadAverage}.`,
      ];
  return [
    `<!-- ${section}:start -->`,
    withFaults ? '## Soak' : '## Soak without faults (memory)',
    '',
    ...setup,
    ...faults,
    '',
    '| requests | failed | sessions lost | items lost | `up` RSS growth MB/h | `up` heap growth MB/h | app RSS growth MB/h (median / max) | `up` RSS MB after warm-up → end |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    `| ${s.requests} | ${s.failed} | ${s.sessionsLost} | ${s.itemsLost} | ${s.rssGrowthMbPerHour.balancer} | ${s.upHeapGrowthMbPerHour} | ${s.rssGrowthMbPerHour.app} / ${s.appGrowthMaxMbPerHour} | ${s.rssMb.upStart} → ${s.rssMb.upEnd} |`,
    '',
    `Failed requests by cause: ${JSON.stringify(s.failures)}.`,
    `<!-- ${section}:end -->`,
  ].join('\n');
}

async function status(control: string): Promise<SystemStatus> {
  const res = await fetch(`${control}/status`);
  if (!res.ok) throw new Error(`status ${res.status}`);
  return (await res.json()) as SystemStatus;
}

function post(control: string, path: string, body: unknown): Promise<Response> {
  return fetch(`${control}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

function rssMb(pid: number): number | null {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(text)?.[1] ?? 0) / 1024;
  } catch {
    return null;
  }
}

/**
 * Asks `up` for a heap snapshot (SIGUSR2, see the spawn) and waits until the new file is whole.
 * The signal makes `up`'s main thread write the snapshot synchronously, and that thread also
 * answers the control API: a status request sent once the file exists is answered only after
 * the file is complete.
 */
async function heapSnapshot(pid: number, dir: string, control: string): Promise<string | null> {
  const before = new Set(readdirSync(dir));
  let file: string | undefined;
  try {
    process.kill(pid, 'SIGUSR2');
    await until(
      async () => {
        file = readdirSync(dir).find((f) => !before.has(f) && f.endsWith('.heapsnapshot'));
        return file !== undefined;
      },
      120_000,
      'a heap snapshot to start',
    );
    await until(async () => (await status(control).catch(() => null)) !== null, 120_000, 'the snapshot');
  } catch (err) {
    console.log(`heap snapshot not written: ${(err as Error).message}`);
    return null;
  }
  const size = statSync(join(dir, file!)).size;
  console.log(`  heap snapshot ${file} (${(size / 2 ** 20).toFixed(0)} MB)`);
  return join(dir, file!);
}

async function until(condition: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

runBenchmark(main);
