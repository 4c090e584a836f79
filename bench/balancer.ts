/**
 * `npm run bench:balancer`: throughput and p99 of the same two app servers reached directly, and
 * through unpinned lb, HAProxy, nginx and the Node peer (http-proxy), measured interleaved in one
 * run. Every proxy runs as its own process with one thread/worker; the load generator is
 * autocannon in this process. Prints a table, writes bench/results/balancer.json, regenerates the
 * "Balancer" section of docs/benchmarks.md, and ends with one JSON line.
 *
 * A/B against another build: `BENCH_BASELINE=../other-checkout npm run bench:balancer` adds that
 * checkout's built `unpinned lb` (its dist/src/cli/index.js; run `npm run build` there first) as
 * one more interleaved target, prints the paired ratios of this build to it, adds `baseline` to
 * the JSON line and writes bench/results/balancer-ab.json instead of the published results.
 *
 * `BENCH_OTEL=1` runs every `unpinned lb` process with a real OpenTelemetry SDK registered
 * (bench/otel-on.ts): the cost of OTel on. Such a run writes bench/results/balancer-otel.json and
 * the "OpenTelemetry" section of docs/benchmarks.md, never the published off figures. A shortened
 * run (BENCH_ROUNDS < 3 or BENCH_SECONDS < 5, to try the benchmark) writes neither.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { renderBenchmarksSection } from './balancer-report.js';
import { children, freePort, lastPid, runBenchmark, startProcess } from './children.js';
import { writeDocSection } from './doc-section.js';
import { otelNodeArgs, otelOn } from './otel.js';
import { writeOtelSection } from './otel-report.js';

const here = new URL('.', import.meta.url).pathname; // dist/bench/
const root = join(here, '..', '..');
const cfg = {
  connections: Number(process.env.BENCH_CONNECTIONS ?? 50),
  roundSeconds: Number(process.env.BENCH_SECONDS ?? 5),
  rounds: Number(process.env.BENCH_ROUNDS ?? 5),
  warmupSeconds: 2,
  baseline: process.env.BENCH_BASELINE,
  otel: otelOn(),
};

interface Sample {
  rps: number;
  p99Ms: number;
  errors: number;
  /** CPU time of the target's own processes (and their children) per request, in µs. */
  cpuUs: number | null;
}
/** `pids`: the processes doing the target's work (the proxy; for direct, both app servers). */
type Target = { key: string; label: string; urls: string[]; pids: number[] };

const tmp = mkdtempSync(join(tmpdir(), 'unpinned-bench-'));

async function main(): Promise<void> {
  const haveHaproxy = ensureInstalled('haproxy');
  const haveNginx = ensureInstalled('nginx');
  const backends = [
    await startNode('backend-server.js', ['app1']),
    await startNode('backend-server.js', ['app2']),
  ];
  const backendPids = children.map((c) => c.pid!);
  const backendUrls = backends.map((p) => `http://127.0.0.1:${p}`);
  const targets: Target[] = [
    { key: 'direct', label: 'direct (both servers)', urls: backendUrls, pids: backendPids },
  ];
  const startLb = (cli: string): Promise<number> =>
    startProcess(process.execPath, [
      ...otelNodeArgs(here),
      cli,
      'lb',
      '--listen',
      '127.0.0.1:0',
      '--strategy',
      'round-robin',
      ...backendUrls.flatMap((u) => ['--backend', u]),
    ]);
  const lbPort = await startLb(join(root, 'dist/src/cli/index.js'));
  targets.push({
    key: 'unpinned',
    label: 'unpinned lb',
    urls: [`http://127.0.0.1:${lbPort}`],
    pids: [lastPid()],
  });
  if (cfg.baseline) {
    const port = await startLb(join(cfg.baseline, 'dist/src/cli/index.js'));
    targets.push({
      key: 'baseline',
      label: 'unpinned lb (baseline)',
      urls: [`http://127.0.0.1:${port}`],
      pids: [lastPid()],
    });
  }
  if (haveHaproxy) {
    const url = await startHaproxy(backends);
    targets.push({ key: 'haproxy', label: haproxyVersion(), urls: [url], pids: [lastPid()] });
  }
  if (haveNginx) {
    const url = await startNginx(backends);
    targets.push({ key: 'nginx', label: nginxVersion(), urls: [url], pids: [lastPid()] });
  }
  const peerPort = await startNode('node-peer.js', backendUrls);
  targets.push({
    key: 'nodePeer',
    label: `http-proxy ${pkgVersion('http-proxy')}`,
    urls: [`http://127.0.0.1:${peerPort}`],
    pids: [lastPid()],
  });

  console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), Node ${process.version}`);
  const busy = loadavg()[0]!;
  if (busy > cpus().length / 2) {
    console.log(
      `!!! load average ${busy.toFixed(1)} before the run: other work shares the CPUs, expect noise !!!`,
    );
  }
  if (cfg.otel) console.log(`OpenTelemetry on in unpinned lb (BENCH_OTEL=${process.env.BENCH_OTEL})`);
  console.log(
    `load: autocannon, ${cfg.connections} connections, ${cfg.rounds} interleaved rounds x ${cfg.roundSeconds}s`,
  );
  for (const t of targets) await measure(t, cfg.warmupSeconds); // warm-up, discarded
  const samples = new Map<string, Sample[]>(targets.map((t) => [t.key, []]));
  for (let round = 0; round < cfg.rounds; round++) {
    // Rotate the order each round so no target always runs first or last.
    const order = targets.map((_, i) => targets[(i + round) % targets.length]!);
    for (const t of order) {
      const s = await measure(t, cfg.roundSeconds);
      samples.get(t.key)!.push(s);
      const cpu = s.cpuUs === null ? '' : `  cpu ${s.cpuUs.toFixed(1)} µs/req`;
      console.log(
        `  round ${round + 1} ${t.label.padEnd(28)} ${s.rps.toFixed(0).padStart(7)} req/s  p99 ${s.p99Ms} ms${cpu}`,
      );
    }
  }
  const result = summarize(targets, samples);
  printTable(targets, result);
  console.log(
    `paired per-round medians: unpinned/HAProxy throughput ${pairedRatio(samples, 'unpinned', 'haproxy', 'rps')}, ` +
      `unpinned/http-proxy ${pairedRatio(samples, 'unpinned', 'nodePeer', 'rps')}, ` +
      `unpinned/HAProxy p99 ${pairedRatio(samples, 'unpinned', 'haproxy', 'p99Ms')}`,
  );
  if (cfg.baseline) {
    console.log(
      `paired per-round medians against the baseline build: throughput ${pairedRatio(samples, 'unpinned', 'baseline', 'rps')}, ` +
        `CPU per request ${pairedRatio(samples, 'unpinned', 'baseline', 'cpuUs')}, ` +
        `p99 ${pairedRatio(samples, 'unpinned', 'baseline', 'p99Ms')}`,
    );
  }
  const json = {
    otel: cfg.otel,
    direct: pick(result.direct),
    unpinned: pick(result.unpinned),
    haproxy: pick(result.haproxy),
    nginx: pick(result.nginx),
    nodePeer: { name: 'http-proxy', ...pick(result.nodePeer) },
    ...(cfg.baseline ? { baseline: pick(result.baseline) } : {}),
  };
  mkdirSync(join(root, 'bench/results'), { recursive: true });
  const record = {
    date: new Date().toISOString(),
    cfg,
    cores: cpus().length,
    node: process.version,
    loadBefore: Number(busy.toFixed(2)),
    labels: Object.fromEntries(targets.map((t) => [t.key, t.label])),
    runs: Object.fromEntries(samples),
    paired: {
      unpinnedVsHaproxy: pairedRatio(samples, 'unpinned', 'haproxy', 'rps'),
      unpinnedVsNodePeer: pairedRatio(samples, 'unpinned', 'nodePeer', 'rps'),
      p99VsHaproxy: pairedRatio(samples, 'unpinned', 'haproxy', 'p99Ms'),
      cpuVsHaproxy: pairedRatio(samples, 'unpinned', 'haproxy', 'cpuUs'),
      ...(cfg.baseline
        ? {
            unpinnedVsBaseline: pairedRatio(samples, 'unpinned', 'baseline', 'rps'),
            cpuVsBaseline: pairedRatio(samples, 'unpinned', 'baseline', 'cpuUs'),
          }
        : {}),
    },
    ...json,
  };
  const file = `${cfg.baseline ? 'balancer-ab' : 'balancer'}${cfg.otel ? '-otel' : ''}.json`;
  // A shortened run (to try the benchmark) is not the recorded result.
  const full = cfg.rounds >= 3 && cfg.roundSeconds >= 5;
  if (full) writeFileSync(join(root, 'bench/results', file), `${JSON.stringify(record, null, 2)}\n`);
  else console.log('a shortened run: bench/results and docs/benchmarks.md left as they were');
  // An A/B run measures a change, not the product: the published section stays as it was.
  if (full && !cfg.baseline) {
    if (cfg.otel) writeOtelSection(root);
    else updateDocs(record);
  }
  console.log(JSON.stringify(json));
}

function pick(s: Sample | undefined): { rps: number; p99Ms: number; cpuUsPerRequest: number | null } {
  return s
    ? { rps: Math.round(s.rps), p99Ms: s.p99Ms, cpuUsPerRequest: s.cpuUs === null ? null : round1(s.cpuUs) }
    : { rps: 0, p99Ms: 0, cpuUsPerRequest: null };
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

/**
 * Median over rounds of the ratio between two targets measured in the same round, seconds
 * apart: steadier than a ratio of medians when other work on the machine comes and goes.
 */
function pairedRatio(
  samples: Map<string, Sample[]>,
  a: string,
  b: string,
  field: 'rps' | 'p99Ms' | 'cpuUs',
): number | null {
  const x = samples.get(a);
  const y = samples.get(b);
  if (!x || !y) return null;
  const ratios = x
    .map((s, i) => (s[field] ?? Number.NaN) / (y[i]?.[field] || Number.NaN))
    .filter(Number.isFinite)
    .sort((p, q) => p - q);
  return ratios.length ? Number(ratios[Math.floor(ratios.length / 2)]!.toFixed(3)) : null;
}

/** Median of the rounds (by throughput) per target. */
function summarize(targets: Target[], samples: Map<string, Sample[]>): Record<string, Sample> {
  const out: Record<string, Sample> = {};
  for (const t of targets) {
    const runs = [...samples.get(t.key)!].sort((a, b) => a.rps - b.rps);
    const rpsMedian = runs[Math.floor(runs.length / 2)]!.rps;
    const p99s = runs.map((r) => r.p99Ms).sort((a, b) => a - b);
    const cpus = runs
      .map((r) => r.cpuUs)
      .filter((c): c is number => c !== null)
      .sort((a, b) => a - b);
    out[t.key] = {
      rps: rpsMedian,
      p99Ms: p99s[Math.floor(p99s.length / 2)]!,
      errors: runs.reduce((n, r) => n + r.errors, 0),
      cpuUs: cpus.length ? cpus[Math.floor(cpus.length / 2)]! : null,
    };
  }
  return out;
}

async function measure(target: Target, seconds: number): Promise<Sample> {
  const { urls } = target;
  // Direct load splits the connections over both servers, like a perfect balancer would.
  const per = Math.max(1, Math.floor(cfg.connections / urls.length));
  const cpuBefore = cpuMicros(target.pids);
  const results = await Promise.all(
    urls.map((url) => autocannon({ url, connections: per, duration: seconds })),
  );
  const cpuAfter = cpuMicros(target.pids);
  const requests = results.reduce((n, r) => n + r.requests.total, 0);
  const rps = results.reduce((n, r) => n + r.requests.total / r.duration, 0);
  const p99Ms = Math.max(...results.map((r) => r.latency.p99));
  const errors = results.reduce((n, r) => n + r.errors + r.timeouts + r.non2xx, 0);
  const cpuUs =
    cpuBefore === null || cpuAfter === null || requests === 0 ? null : (cpuAfter - cpuBefore) / requests;
  return { rps, p99Ms, errors, cpuUs };
}

/**
 * User + system CPU time so far of these processes and their children (nginx works in a child
 * of its master), in µs, from /proc; null where /proc is not available.
 */
function cpuMicros(pids: number[]): number | null {
  const tick = 1_000_000 / clockTicks;
  let total = 0;
  try {
    for (const pid of pids) {
      for (const p of [pid, ...childPids(pid)]) {
        const fields = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ');
        total += (Number(fields[11]) + Number(fields[12])) * tick; // utime, stime
      }
    }
  } catch {
    return null;
  }
  return total;
}

function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** Kernel clock ticks per second (USER_HZ), 100 on Linux unless told otherwise. */
const clockTicks = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

function printTable(targets: Target[], r: Record<string, Sample>): void {
  const hap = r.haproxy;
  const peer = r.nodePeer;
  console.log(
    '\ntarget                          req/s    p99 ms   errors   vs HAProxy   vs Node peer   CPU µs/req',
  );
  for (const t of targets) {
    const s = r[t.key]!;
    const vsHap = hap ? `${(s.rps / hap.rps).toFixed(2)}x` : '-';
    const vsPeer = peer ? `${(s.rps / peer.rps).toFixed(2)}x` : '-';
    const cpu = s.cpuUs === null ? '-' : s.cpuUs.toFixed(1);
    console.log(
      `${t.label.padEnd(30)} ${s.rps.toFixed(0).padStart(7)} ${String(s.p99Ms).padStart(8)} ${String(s.errors).padStart(8)} ${vsHap.padStart(12)} ${vsPeer.padStart(14)} ${cpu.padStart(12)}`,
    );
  }
}

function updateDocs(record: Parameters<typeof renderBenchmarksSection>[0]): void {
  writeDocSection(root, 'balancer', renderBenchmarksSection(record));
}

// ---- processes ----------------------------------------------------------------------------

function ensureInstalled(binary: string): boolean {
  if (which(binary)) return true;
  console.log(`${binary} not found: installing it with apt-get (Debian package)`);
  try {
    execFileSync('apt-get', ['update', '-q'], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    execFileSync('apt-get', ['install', '-y', '-q', binary], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  } catch (err) {
    console.error(
      `\n!!! could not install ${binary} (${(err as Error).message}): ${binary} is SKIPPED in this run !!!\n`,
    );
    return false;
  }
  return which(binary) !== undefined;
}

function which(binary: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin'])) {
    try {
      execFileSync('test', ['-x', join(dir, binary)]);
      return join(dir, binary);
    } catch {}
  }
  return undefined;
}

async function startNode(script: string, args: string[]): Promise<number> {
  return startProcess(process.execPath, [join(here, script), ...args]);
}

/** Spawns a child that prints "port N" (or our CLI's "listening on http://host:N"). */
async function startHaproxy(backends: number[]): Promise<string> {
  const port = await freePort();
  const conf = join(tmp, 'haproxy.cfg');
  writeFileSync(
    conf,
    [
      'global',
      '  nbthread 1',
      '  maxconn 4096',
      'defaults',
      '  mode http',
      '  timeout connect 5s',
      '  timeout client 60s',
      '  timeout server 60s',
      '  option http-keep-alive',
      '  option forwardfor',
      'frontend fe',
      `  bind 127.0.0.1:${port}`,
      '  default_backend be',
      'backend be',
      '  balance roundrobin',
      '  http-reuse always',
      ...backends.map((p, i) => `  server s${i + 1} 127.0.0.1:${p}`),
      '',
    ].join('\n'),
  );
  children.push(spawn(which('haproxy')!, ['-db', '-f', conf], { stdio: ['ignore', 'ignore', 'inherit'] }));
  await waitListening(port);
  return `http://127.0.0.1:${port}`;
}

async function startNginx(backends: number[]): Promise<string> {
  const port = await freePort();
  const prefix = join(tmp, 'nginx');
  mkdirSync(join(prefix, 'logs'), { recursive: true });
  const conf = join(prefix, 'nginx.conf');
  const runAsRoot = process.getuid?.() === 0 ? 'user root;' : '';
  writeFileSync(
    conf,
    `${runAsRoot}
worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${prefix}/body; proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fcgi; uwsgi_temp_path ${prefix}/uwsgi; scgi_temp_path ${prefix}/scgi;
  upstream be { ${backends.map((p) => `server 127.0.0.1:${p};`).join(' ')} keepalive 128; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://be;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }
  }
}
`,
  );
  children.push(
    spawn(which('nginx')!, ['-p', prefix, '-c', conf, '-g', 'daemon off;'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    }),
  );
  await waitListening(port);
  return `http://127.0.0.1:${port}`;
}

async function waitListening(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(true)); // in use: something listens
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(false)));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function haproxyVersion(): string {
  const out = execFileSync(which('haproxy')!, ['-v']).toString();
  return `HAProxy ${/version (\S+)/.exec(out)?.[1] ?? '?'}`;
}

function nginxVersion(): string {
  const out = execFileSync(which('nginx')!, ['-v'], { stdio: ['ignore', 'pipe', 'pipe'] }).toString() || '';
  let err = out;
  try {
    err = execFileSync('sh', ['-c', `${which('nginx')} -v 2>&1`]).toString();
  } catch {}
  return `nginx ${/nginx\/(\S+)/.exec(err)?.[1] ?? '?'}`;
}

function pkgVersion(name: string): string {
  return JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')).version;
}

runBenchmark(main, tmp);
