/**
 * `npm run bench:abuse`: what abusive clients cost `unpinned lb`, and whether it keeps serving
 * everyone else. The balancer runs as its own process (`unpinned lb`, 5 s client timeouts) in
 * front of one app server (abuse-backend.ts); this process opens the abusers, and meanwhile one
 * well-behaved keep-alive client sends requests. Per scenario: the balancer's RSS before, at its
 * peak and after; kilobytes per abusive connection; the good client's answers and p99; and how
 * long after the abusers went quiet the balancer had closed them all by its own timers.
 *
 * Scenarios: slowloris (heads a byte at a time), idle keep-alive connections, slow uploads,
 * downloads nobody reads, WebSocket peers that stop reading, header floods (a 431 each).
 * `BENCH_SCALE` scales the connection counts (default 1: 5,000 / 10,000 / 2,000 / 500 / 500 /
 * 2,000). Writes bench/results/abuse.json, regenerates the "Abuse" section of
 * docs/benchmarks.md, and ends with one JSON line.
 */
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { children, freePort, runBenchmark, startProcess } from './children.js';
import { writeDocSection } from './doc-section.js';

const here = new URL('.', import.meta.url).pathname; // dist/bench/
const root = join(here, '..', '..');
const scale = Number(process.env.BENCH_SCALE ?? 1);
const timeoutMs = 5_000;
// BENCH_HOLD_MS: how long the good client keeps sending while the abusers hold their connections.
const holdMs = Number(process.env.BENCH_HOLD_MS ?? 3_000);
// BENCH_ONLY: run only the scenarios whose name contains this text.
const only = process.env.BENCH_ONLY;
const tmp = mkdtempSync(join(tmpdir(), 'unpinned-abuse-'));

interface Scenario {
  name: string;
  connections: number;
  /** Starts the abuse on `sockets`; returns a function that makes the abusers go quiet. */
  start(sockets: Socket[]): () => void;
  /** A request to send on each socket once connected. */
  first?: string;
}

interface Result {
  scenario: string;
  connections: number;
  rssBeforeMb: number;
  rssPeakMb: number;
  rssAfterMb: number;
  kbPerConnection: number;
  goodOk: number;
  goodFailed: number;
  goodP99Ms: number;
  /** From the abusers going quiet to the balancer having closed all of them. */
  closedWithinMs: number | null;
}

const n = (count: number) => Math.max(1, Math.round(count * scale));

const scenarios: Scenario[] = [
  {
    name: 'slowloris: heads a byte every 200 ms',
    connections: n(5_000),
    start: (sockets) => trickle(sockets, 'GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ', 200),
  },
  {
    name: 'idle keep-alive connections',
    connections: n(10_000),
    first: 'GET /once HTTP/1.1\r\nHost: x\r\n\r\n',
    start: () => () => {},
  },
  {
    name: 'slow uploads: 1 KiB every 500 ms',
    connections: n(2_000),
    first: 'POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 104857600\r\n\r\n',
    start: (sockets) => trickle(sockets, 'x'.repeat(1024), 500),
  },
  {
    name: 'downloads nobody reads (64 MiB each)',
    connections: n(500),
    first: 'GET /big?mb=64 HTTP/1.1\r\nHost: x\r\n\r\n',
    start: (sockets) => {
      for (const s of sockets) s.pause();
      return () => {};
    },
  },
  {
    name: 'WebSocket peers that stop reading a flood',
    connections: n(500),
    first:
      'GET /flood HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    start: (sockets) => {
      for (const s of sockets) s.pause();
      return () => {};
    },
  },
  {
    name: 'header floods: 16 KiB heads (431)',
    connections: n(2_000),
    first: `GET / HTTP/1.1\r\nHost: x\r\nX-Flood: ${'f'.repeat(16_500)}\r\n\r\n`,
    start: () => () => {},
  },
];

/** Writes `text` a piece per socket every `everyMs` (cycling), until told to stop. */
function trickle(sockets: Socket[], text: string, everyMs: number): () => void {
  let i = 0;
  const piece = text.length > 64 ? text : undefined;
  const timer = setInterval(() => {
    for (const s of sockets) if (!s.destroyed) s.write(piece ?? text[i % text.length]!);
    i++;
  }, everyMs);
  return () => clearInterval(timer);
}

async function main(): Promise<void> {
  const backend = await startProcess(process.execPath, [join(here, 'abuse-backend.js')]);
  const adminPort = await freePort();
  const config = join(tmp, 'lb.json');
  writeFileSync(
    config,
    JSON.stringify({
      timeouts: {
        clientHeadersMs: timeoutMs,
        clientKeepAliveMs: timeoutMs,
        clientBodyMs: timeoutMs,
        clientSendMs: timeoutMs,
        tunnelIdleMs: timeoutMs,
      },
      limits: { maxConnections: 20_000 },
    }),
  );
  const lbPort = await startProcess(process.execPath, [
    join(root, 'dist/src/cli/index.js'),
    'lb',
    '--config',
    config,
    '--listen',
    '127.0.0.1:0',
    '--admin',
    `127.0.0.1:${adminPort}`,
    '--backend',
    `http://127.0.0.1:${backend}`,
  ]);
  const lbPid = children.at(-1)!.pid!;
  console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), Node ${process.version}`);
  const load = loadavg()[0]!;
  console.log(`load average before the run: ${load.toFixed(2)}`);
  const good = new Pool(`http://127.0.0.1:${lbPort}`, { connections: 1 });
  await goodRequests(good, 200); // warm-up
  const results: Result[] = [];
  for (const scenario of scenarios) {
    if (only && !scenario.name.includes(only)) continue;
    const result = await run(scenario, lbPort, lbPid, adminPort, good);
    results.push(result);
    console.log(
      `${scenario.name.padEnd(44)} ${String(result.connections).padStart(6)} conns  rss ${result.rssBeforeMb} → ${result.rssPeakMb} → ${result.rssAfterMb} MB  ` +
        `${result.kbPerConnection} KB/conn  good ${result.goodOk} ok ${result.goodFailed} failed p99 ${result.goodP99Ms} ms  closed within ${result.closedWithinMs ?? '-'} ms`,
    );
  }
  await good.close();
  const summary = { scale, timeoutMs, loadAverage: Number(load.toFixed(2)), results };
  // A partial or stretched run is an experiment, not the recorded result.
  if (!only && holdMs === 3_000) {
    mkdirSync(join(root, 'bench', 'results'), { recursive: true });
    writeFileSync(join(root, 'bench', 'results', 'abuse.json'), `${JSON.stringify(summary, null, 2)}\n`);
    writeDocSection(root, 'abuse', renderSection(summary));
  }
  console.log(JSON.stringify(summary));
}

async function run(
  scenario: Scenario,
  port: number,
  pid: number,
  adminPort: number,
  good: Pool,
): Promise<Result> {
  await waitUntil(async () => (await connectionsOpen(adminPort)) <= 1, 30_000);
  const before = rssMb(pid);
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssMb(pid));
  }, 100);
  const sockets = await openSockets(port, scenario.connections);
  if (scenario.first) for (const s of sockets) s.write(scenario.first);
  const quiet = scenario.start(sockets);
  const latencies: number[] = [];
  let ok = 0;
  let failed = 0;
  const until = Date.now() + holdMs;
  while (Date.now() < until) {
    const t0 = performance.now();
    try {
      const res = await good.request({ path: '/good', method: 'GET' });
      await res.body.text();
      if (res.statusCode === 200) ok++;
      else failed++;
    } catch {
      failed++;
    }
    latencies.push(performance.now() - t0);
  }
  quiet();
  const quietAt = Date.now();
  const closed = await waitUntil(async () => (await connectionsOpen(adminPort)) <= 1, timeoutMs * 4);
  const closedWithinMs = closed ? Date.now() - quietAt : null;
  clearInterval(sampler);
  peak = Math.max(peak, rssMb(pid));
  for (const s of sockets) s.destroy();
  await waitUntil(async () => (await connectionsOpen(adminPort)) <= 1, 30_000);
  const after = rssMb(pid);
  latencies.sort((a, b) => a - b);
  return {
    scenario: scenario.name,
    connections: scenario.connections,
    rssBeforeMb: before,
    rssPeakMb: peak,
    rssAfterMb: after,
    kbPerConnection: Number((((peak - before) * 1024) / scenario.connections).toFixed(1)),
    goodOk: ok,
    goodFailed: failed,
    goodP99Ms: Number((latencies[Math.floor(latencies.length * 0.99)] ?? 0).toFixed(1)),
    closedWithinMs,
  };
}

async function goodRequests(pool: Pool, count: number): Promise<void> {
  for (let i = 0; i < count; i++) await (await pool.request({ path: '/good', method: 'GET' })).body.text();
}

/** Opens sockets in batches (the listen backlog is finite), all connected on return. */
async function openSockets(port: number, count: number): Promise<Socket[]> {
  const sockets: Socket[] = [];
  for (let i = 0; i < count; i += 500) {
    const batch = Array.from({ length: Math.min(500, count - i) }, async () => {
      const s = connect(port, '127.0.0.1');
      s.on('error', () => {});
      s.on('data', () => {});
      await once(s, 'connect');
      return s;
    });
    sockets.push(...(await Promise.all(batch)));
  }
  return sockets;
}

async function connectionsOpen(adminPort: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${adminPort}/metrics`);
  const text = await res.text();
  return Number(/^unpinned_lb_client_connections (\d+)/m.exec(text)?.[1] ?? Number.NaN);
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number((Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024).toFixed(1));
}

async function waitUntil(condition: () => Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

function renderSection(summary: { scale: number; loadAverage: number; results: Result[] }): string {
  const rows = summary.results.map(
    (r) =>
      `| ${r.scenario} | ${r.connections} | ${r.rssBeforeMb} / ${r.rssPeakMb} / ${r.rssAfterMb} | ${r.kbPerConnection} | ${r.goodOk} / ${r.goodFailed} | ${r.goodP99Ms} | ${r.closedWithinMs ?? 'not all'} |`,
  );
  return [
    '<!-- abuse:start -->',
    '## Abuse',
    '',
    `\`npm run bench:abuse\` (generated; scale ${summary.scale}, load average ${summary.loadAverage} before the run).`,
    `unpinned lb as its own process with ${timeoutMs / 1000} s client timeouts, one app server, the abusers and one`,
    'well-behaved keep-alive client in the benchmark process; each scenario holds its abusers for',
    `${holdMs / 1000} s while the good client sends requests one after another. RSS is the balancer's (VmRSS).`,
    '"Closed within" runs from the moment the abusers go quiet to the balancer having closed every',
    'one of them by its own timers.',
    '',
    '| scenario | connections | RSS MB before / peak / after | KB per connection | good ok / failed | good p99 ms | closed within ms |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '<!-- abuse:end -->',
  ].join('\n');
}

runBenchmark(main, tmp);
