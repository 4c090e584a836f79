/**
 * `npm run bench:realtime-fanout`: fan-out of realtime messages from Redis to S app servers, the
 * way unpinned ships it (the publish script's SPUBLISH, one SSUBSCRIBE connection per server)
 * against blocking stream reads (the same append to the same stream keys, and one connection per
 * server blocked in XREAD on all its channels), on one private redis-server, rounds interleaved.
 *
 * Per configuration (C channels; every server on every channel, or each channel on
 * BENCH_WATCHERS servers) and variant, S fresh server processes follow the channels, then three
 * phases run: a warm-up, a saturated phase (BENCH_MESSAGES publishes, BENCH_INFLIGHT in flight,
 * round-robin over the channels) and a paced phase (BENCH_RATE publishes/s for BENCH_PACED_MS).
 * Measured per phase: deliveries per second, delivery latency (HdrHistogram, µs), Redis CPU per
 * published message (/proc), the servers' and the publisher's CPU. Figures are medians of the
 * rounds. Prints a table, writes bench/results/realtime-fanout.json, regenerates the "Realtime
 * fan-out" section of docs/benchmarks.md (full runs only) and ends with one JSON line.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { decodeFromCompressedBase64 } from 'hdr-histogram-js';
import { createClient, type RedisClientType } from 'redis';
import { newHistogram } from '../src/lab/recorder.js';
import { type ChannelKeys, keysOf } from '../src/realtime/channel.js';
import { publishScript } from '../src/realtime/scripts.js';
import { RedisServer } from '../src/system/redis-server.js';
import { runBenchmark } from './children.js';
import { writeDocSection } from './doc-section.js';
import { nowUs, type Variant } from './realtime-fanout-protocol.js';
import {
  type Config,
  type ConfigResult,
  type Phase,
  renderSection,
  renderTable,
  summarize,
  type VariantRun,
} from './realtime-fanout-report.js';
import { fromAll, ServerProcess } from './realtime-fanout-servers.js';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const SERVERS = env('BENCH_SERVERS', 4);
const CHANNELS = (process.env.BENCH_CHANNELS ?? '1,100,1000').split(',').map(Number);
const INTEREST = (process.env.BENCH_INTEREST ?? 'all,subset').split(',') as Config['interest'][];
const WATCHERS = Math.min(env('BENCH_WATCHERS', 1), SERVERS);
const MESSAGES = env('BENCH_MESSAGES', 20_000);
const ROUNDS = env('BENCH_ROUNDS', 3);
const INFLIGHT = env('BENCH_INFLIGHT', 50);
const RATE = env('BENCH_RATE', 1000);
const PACED_MS = env('BENCH_PACED_MS', 3000);
const PHASE_TIMEOUT_MS = env('BENCH_PHASE_TIMEOUT_MS', 60_000);
const MAX_MINUTES = env('BENCH_MAX_MINUTES', 30);
// Fewer rounds, messages or paced time than the defaults: a try-out, not the recorded result.
const SHORTENED = ROUNDS < 3 || MESSAGES < 20_000 || PACED_MS < 3000;

const here = new URL('.', import.meta.url).pathname; // dist/bench/
const root = join(here, '..', '..');
const serverFile = join(here, 'realtime-fanout-server.js');
// The defaults of createRealtime(): history bound and idle TTL, as the publish script gets them.
const HISTORY = { maxLength: '1000', maxAgeMs: '600000', idleTtlMs: '86400000' };

/** The shipped publish script without its SPUBLISH: the append, offsets and trimming stay identical. */
const SPUBLISH = /^redis\.call\('SPUBLISH'.*\n/m;
if (!SPUBLISH.test(publishScript.source))
  throw new Error('the publish script no longer has its SPUBLISH line');
const appendOnlySource = publishScript.source.replace(SPUBLISH, '');

type Publisher = RedisClientType;

/** The servers that follow channel `c`. */
function watchers(config: Config, c: number): number[] {
  if (config.interest === 'all') return Array.from({ length: SERVERS }, (_, s) => s);
  return Array.from({ length: WATCHERS }, (_, k) => (c + k) % SERVERS);
}

/**
 * On-CPU time of a process and all its threads in µs, from /proc: the scheduler's nanosecond
 * account (`task/<tid>/schedstat`) where the kernel keeps it, as utime+stime from `stat` (10 ms
 * ticks, too coarse for a phase of a few thousand messages) where it does not.
 */
function processCpuUs(pid: number): number {
  try {
    const tasks = readdirSync(`/proc/${pid}/task`);
    let ns = 0;
    for (const tid of tasks)
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    return ns / 1000;
  } catch {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  }
}

/** The `j`th publish of a run: channel j mod C, stamped with its send time. */
function publisherOf(client: Publisher, sha: string, keys: ChannelKeys[]): (j: number) => Promise<unknown> {
  const epoch = randomBytes(6).toString('base64url');
  return (j) => {
    const k = keys[j % keys.length]!;
    const data = JSON.stringify({ t: nowUs() });
    const { idleTtlMs, maxLength, maxAgeMs } = HISTORY;
    return client.sendCommand([
      'EVALSHA',
      sha,
      '2',
      k.meta,
      k.log,
      epoch,
      idleTtlMs,
      data,
      maxLength,
      maxAgeMs,
      k.live,
    ]);
  };
}

async function publishSaturated(publish: (j: number) => Promise<unknown>, from: number, n: number) {
  let j = from;
  const end = from + n;
  // A sliding window: each lane sends its next publish as soon as its last one is answered.
  const lane = async () => {
    while (j < end) await publish(j++);
  };
  await Promise.all(Array.from({ length: Math.min(INFLIGHT, n) }, lane));
}

async function publishPaced(publish: (j: number) => Promise<unknown>, from: number, n: number) {
  const started = performance.now();
  const sent: Promise<unknown>[] = [];
  for (let i = 0; i < n; ) {
    const due = Math.min(n, Math.floor(((performance.now() - started) * RATE) / 1000) + 1);
    while (i < due) sent.push(publish(from + i++));
    if (i < n) await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await Promise.all(sent);
}

async function measure(
  redisPid: number,
  servers: ServerProcess[],
  config: Config,
  publish: (j: number) => Promise<unknown>,
  range: { from: number; n: number; paced: boolean },
): Promise<Phase> {
  const expected = servers.map(() => 0);
  for (let j = range.from; j < range.from + range.n; j++)
    for (const s of watchers(config, j % config.channels)) expected[s]!++;
  for (const [s, server] of servers.entries()) server.send({ type: 'expect', deliveries: expected[s]! });
  await fromAll(servers, 'armed', performance.now() + 10_000);
  const redisBefore = processCpuUs(redisPid);
  const mine = process.cpuUsage();
  const startUs = nowUs();
  const deadline = performance.now() + PHASE_TIMEOUT_MS;
  await (range.paced ? publishPaced : publishSaturated)(publish, range.from, range.n);
  const done = await Promise.all(servers.map((server) => server.next('done', deadline)));
  const redisCpuUs = processCpuUs(redisPid) - redisBefore;
  const publisher = process.cpuUsage(mine);
  for (const server of servers) server.send({ type: 'report' });
  const reports = (await fromAll(servers, 'report', performance.now() + 10_000)).map((m) => m.report);
  const histogram = newHistogram();
  for (const r of reports) histogram.add(decodeFromCompressedBase64(r.histogram));
  const delivered = reports.reduce((sum, r) => sum + r.delivered, 0);
  const seconds = Math.max(1e-6, (Math.max(...reports.map((r) => r.lastAtUs)) - startUs) / 1e6);
  const ms = (p: number) => Number((histogram.getValueAtPercentile(p) / 1000).toFixed(2));
  return {
    published: range.n,
    expected: expected.reduce((a, b) => a + b, 0),
    delivered,
    lost: expected.reduce((a, b) => a + b, 0) - delivered,
    complete: done.every((d) => d !== null),
    deliveredPerSec: delivered === 0 ? 0 : Math.round(delivered / seconds),
    p50Ms: ms(50),
    p99Ms: ms(99),
    maxMs: Number((histogram.maxValue / 1000).toFixed(2)),
    redisCpuUsPerMessage: redisCpuUs / range.n,
    serversCpuUsPerDelivery: reports.reduce((sum, r) => sum + r.cpuUs, 0) / Math.max(1, delivered),
    publisherCpuUsPerMessage: (publisher.user + publisher.system) / range.n,
  };
}

async function runVariant(
  redis: RedisServer,
  client: Publisher,
  shas: Record<Variant, string>,
  config: Config,
  variant: Variant,
  tag: string,
): Promise<VariantRun> {
  const prefix = `bench:fanout:${tag}:`;
  const names = Array.from({ length: config.channels }, (_, c) => `room:fanout-${c}`);
  const servers = Array.from({ length: SERVERS }, () => new ServerProcess(serverFile));
  try {
    for (const [s, server] of servers.entries()) {
      const channels = names.filter((_, c) => watchers(config, c).includes(s));
      server.send({ type: 'setup', variant, url: redis.url, prefix, channels });
    }
    await fromAll(servers, 'ready', performance.now() + 120_000);
    const publish = publisherOf(
      client,
      shas[variant],
      names.map((name) => keysOf(prefix, name)),
    );
    let from = 0;
    const phase = async (n: number, paced: boolean) => {
      const result = await measure(redis.pid!, servers, config, publish, { from, n, paced });
      from += n;
      return result;
    };
    // Warm-up: JIT on both sides, and every channel's epoch made by a first publish.
    await phase(Math.max(config.channels, Math.min(2000, MESSAGES)), false);
    const saturated = await phase(MESSAGES, false);
    const paced = await phase(Math.round((RATE * PACED_MS) / 1000), true);
    return { saturated, paced };
  } finally {
    await Promise.all(servers.map((server) => server.exit()));
    await client.sendCommand(['FLUSHALL']);
  }
}

function configurations(): Config[] {
  const list: Config[] = [];
  // A subset needs a channel for every server, and must be less than all of them.
  for (const channels of CHANNELS)
    for (const interest of INTEREST)
      if (interest === 'all' || (channels >= SERVERS && WATCHERS < SERVERS))
        list.push({ channels, interest });
  return list;
}

async function main(): Promise<void> {
  const loadBefore = loadavg()[0]!;
  const redis = await RedisServer.start();
  // redis-server cannot notice that this process is gone: a time cap or Ctrl-C must stop it too.
  process.on('exit', () => {
    try {
      if (redis.pid) process.kill(redis.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  });
  setTimeout(() => {
    console.error(`stopped: the run took longer than BENCH_MAX_MINUTES=${MAX_MINUTES}`);
    process.exit(2);
  }, MAX_MINUTES * 60_000).unref();
  const client = createClient({ url: redis.url, disableOfflineQueue: true, commandOptions: { timeout: 0 } });
  client.on('error', () => {});
  await client.connect();
  try {
    const shas = {
      pubsub: String(await client.sendCommand(['SCRIPT', 'LOAD', publishScript.source])),
      xread: String(await client.sendCommand(['SCRIPT', 'LOAD', appendOnlySource])),
    };
    const info = String(await client.sendCommand(['INFO', 'server']));
    const redisVersion = /redis_version:(\S+)/.exec(info)?.[1] ?? '?';
    console.log(
      `machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), Node ${process.version}, Redis ${redisVersion}, load average ${loadBefore.toFixed(2)}`,
    );
    const results: ConfigResult[] = [];
    for (const [i, config] of configurations().entries()) {
      const rounds: Record<Variant, VariantRun[]> = { pubsub: [], xread: [] };
      for (let round = 0; round < ROUNDS; round++) {
        // Alternate the order so that drift of the machine does not favour one variant.
        const order: Variant[] = round % 2 === 0 ? ['pubsub', 'xread'] : ['xread', 'pubsub'];
        for (const variant of order) {
          const run = await runVariant(redis, client, shas, config, variant, `${i}-${round}-${variant}`);
          rounds[variant].push(run);
          process.stderr.write(
            `${config.channels} ch ${config.interest} round ${round + 1} ${variant}: ${run.saturated.deliveredPerSec} delivered/s, ` +
              `p99 ${run.saturated.p99Ms} ms, Redis ${run.saturated.redisCpuUsPerMessage.toFixed(1)} µs/msg; ` +
              `paced p99 ${run.paced.p99Ms} ms, Redis ${run.paced.redisCpuUsPerMessage.toFixed(1)} µs/msg\n`,
          );
        }
      }
      results.push(summarize(config, config.interest === 'all' ? SERVERS : WATCHERS, rounds));
    }
    const record = {
      date: new Date().toISOString(),
      shortened: SHORTENED,
      machine: {
        cores: cpus().length,
        model: cpus()[0]?.model ?? '?',
        node: process.version,
        redis: redisVersion,
        loadAverageBefore: Number(loadBefore.toFixed(2)),
        loadAverageAfter: Number(loadavg()[0]!.toFixed(2)),
      },
      method: {
        servers: SERVERS,
        messages: MESSAGES,
        rounds: ROUNDS,
        inflight: INFLIGHT,
        ratePerSec: RATE,
        pacedMs: PACED_MS,
        watchersPerChannelInSubset: WATCHERS,
        command: commandLine(),
      },
      configurations: results,
    };
    console.log(renderTable(results));
    mkdirSync(join(root, 'bench', 'results'), { recursive: true });
    writeFileSync(
      join(root, 'bench', 'results', 'realtime-fanout.json'),
      `${JSON.stringify(record, null, 2)}\n`,
    );
    if (SHORTENED) process.stderr.write('a shortened run: docs/benchmarks.md left as it was\n');
    else writeDocSection(root, 'realtime-fanout', renderSection(record));
    const brief = results.map(({ rounds: _, ...rest }) => rest);
    console.log(JSON.stringify({ servers: SERVERS, shortened: SHORTENED, configurations: brief }));
  } finally {
    await client.close().catch(() => {});
    await redis.close();
  }
}

/** The command that reproduces this run: the BENCH_* variables it was given, then the script. */
function commandLine(): string {
  const vars = Object.entries(process.env)
    .filter(([name]) => name.startsWith('BENCH_'))
    .map(([name, value]) => `${name}=${value}`);
  return [...vars, 'npm run bench:realtime-fanout'].join(' ');
}

runBenchmark(main);
