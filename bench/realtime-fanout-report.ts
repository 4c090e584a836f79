/**
 * Figures of `npm run bench:realtime-fanout`: the median of the rounds per variant, the paired
 * xread/pubsub ratios, the terminal table and the "Realtime fan-out" section of docs/benchmarks.md,
 * generated from the same record that goes to bench/results/realtime-fanout.json.
 */
import type { Variant } from './realtime-fanout-protocol.js';

export interface Config {
  channels: number;
  /** all: every server follows every channel (worst case); subset: each channel on a few servers. */
  interest: 'all' | 'subset';
}

export interface Phase {
  published: number;
  expected: number;
  delivered: number;
  /** Expected deliveries that never came (xread: entries trimmed before they were read). */
  lost: number;
  /** Every server had all its deliveries before the phase's deadline. */
  complete: boolean;
  deliveredPerSec: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  redisCpuUsPerMessage: number;
  /** All S app servers' CPU, per message delivered to one of them. */
  serversCpuUsPerDelivery: number;
  publisherCpuUsPerMessage: number;
}

export interface VariantRun {
  saturated: Phase;
  paced: Phase;
}

const FIGURES = [
  'deliveredPerSec',
  'p50Ms',
  'p99Ms',
  'redisCpuUsPerMessage',
  'serversCpuUsPerDelivery',
  'publisherCpuUsPerMessage',
] as const;
type Figures = Record<(typeof FIGURES)[number], number> & { lost: number };

export type Summary = Figures & { paced: Figures };

export interface ConfigResult extends Config {
  /** Servers following each channel. */
  watchersPerChannel: number;
  pubsub: Summary;
  xread: Summary;
  /** xread's figure over pubsub's, per round, median (Redis CPU above 1: xread costs Redis more). */
  xreadOverPubsub: Record<'redisCpu' | 'pacedRedisCpu' | 'deliveredPerSec' | 'pacedP99', number | null>;
  rounds: Record<Variant, VariantRun[]>;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const round2 = (n: number) => Number(n.toFixed(2));

function figures(phases: Phase[]): Figures {
  const out = { lost: phases.reduce((sum, p) => sum + p.lost, 0) } as Figures;
  for (const key of FIGURES) out[key] = round2(median(phases.map((p) => p[key])));
  return out;
}

function summary(runs: VariantRun[]): Summary {
  return { ...figures(runs.map((r) => r.saturated)), paced: figures(runs.map((r) => r.paced)) };
}

export function summarize(
  config: Config,
  watchersPerChannel: number,
  rounds: Record<Variant, VariantRun[]>,
): ConfigResult {
  // Rounds where pubsub's figure is 0 (nothing measurable) have no ratio; none at all: null.
  const paired = (pick: (run: VariantRun) => number) => {
    const ratios = rounds.xread
      .map((x, i) => pick(x) / pick(rounds.pubsub[i]!))
      .filter((ratio) => Number.isFinite(ratio));
    return ratios.length > 0 ? round2(median(ratios)) : null;
  };
  return {
    ...config,
    watchersPerChannel,
    pubsub: summary(rounds.pubsub),
    xread: summary(rounds.xread),
    xreadOverPubsub: {
      redisCpu: paired((r) => r.saturated.redisCpuUsPerMessage),
      pacedRedisCpu: paired((r) => r.paced.redisCpuUsPerMessage),
      deliveredPerSec: paired((r) => r.saturated.deliveredPerSec),
      pacedP99: paired((r) => r.paced.p99Ms),
    },
    rounds,
  };
}

export function renderTable(results: ConfigResult[]): string {
  const lines = [
    '| channels | servers per channel | variant | delivered/s | p50 ms | p99 ms | Redis CPU µs/msg | servers CPU µs/delivery | publisher CPU µs/msg | paced p50 ms | paced p99 ms | paced Redis CPU µs/msg | lost |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of results) {
    for (const variant of ['pubsub', 'xread'] as const) {
      const s = r[variant];
      lines.push(
        `| ${r.channels} | ${r.watchersPerChannel} (${r.interest}) | ${variant} | ${s.deliveredPerSec} | ${s.p50Ms} | ${s.p99Ms} | ${s.redisCpuUsPerMessage} | ${s.serversCpuUsPerDelivery} | ${s.publisherCpuUsPerMessage} | ${s.paced.p50Ms} | ${s.paced.p99Ms} | ${s.paced.redisCpuUsPerMessage} | ${s.lost + s.paced.lost} |`,
      );
    }
  }
  lines.push(
    '',
    '| channels | servers per channel | xread / pubsub: Redis CPU per message | paced Redis CPU per message | delivered/s | paced p99 |',
    '| --- | --- | --- | --- | --- | --- |',
  );
  for (const r of results) {
    const x = r.xreadOverPubsub;
    const times = (ratio: number | null) => (ratio === null ? '-' : `${ratio}x`);
    lines.push(
      `| ${r.channels} | ${r.watchersPerChannel} (${r.interest}) | ${times(x.redisCpu)} | ${times(x.pacedRedisCpu)} | ${times(x.deliveredPerSec)} | ${times(x.pacedP99)} |`,
    );
  }
  return lines.join('\n');
}

export interface FanoutRecord {
  date: string;
  machine: { cores: number; model: string; node: string; redis: string; loadAverageBefore: number };
  method: {
    servers: number;
    messages: number;
    rounds: number;
    inflight: number;
    ratePerSec: number;
    pacedMs: number;
    command: string;
  };
  configurations: ConfigResult[];
}

export function renderSection(r: FanoutRecord): string {
  const m = r.method;
  return `<!-- realtime-fanout:start -->
## Realtime fan-out

Generated by \`${m.command}\` on ${r.date.slice(0, 10)}: ${r.machine.cores} cores (${r.machine.model}),
Node ${r.machine.node}, Redis ${r.machine.redis}, load average ${r.machine.loadAverageBefore} before the run.
${m.servers} app servers; figures are the medians of ${m.rounds} rounds.

${renderTable(r.configurations)}

**Method.** One private \`redis-server\`; ${m.servers} app servers, each its own Node process. *pubsub* is
what \`unpinned/realtime\` ships: the publish script appends to the channel's stream and announces the
entry with \`SPUBLISH\`; every server is a \`createRealtime()\` instance with one \`subscribe()\` per
channel it follows (one \`SSUBSCRIBE\` connection per server). *xread* runs the same script without its
\`SPUBLISH\` line (same keys, offsets and trimming) and every server keeps one connection blocked in
\`XREAD BLOCK 0 STREAMS\` over all its channels' streams, re-armed with the last ids as soon as a batch
is in. Per round and variant the servers start fresh, follow their channels, and three phases run: a
warm-up; ${m.messages} publishes with ${m.inflight} in flight from one connection, round-robin over the channels
(delivered/s, p50, p99, CPU columns); ${m.ratePerSec} publishes/s for ${m.pacedMs / 1000} s (the paced columns).
Latency runs from just before the publish is sent to the server's handler, on CLOCK_MONOTONIC
(shared by all processes), into an HdrHistogram. Redis CPU is redis-server's on-CPU time over the
phase (\`/proc\`: the scheduler's ns account of each of its threads, else utime+stime), divided by
the messages published; servers' CPU is all app servers' together per delivery. "Servers per channel" is ${m.servers} when every server follows every channel,
fewer in the subset rows (channel *c* on servers *c*, *c*+1, … mod ${m.servers}). Ratios are xread's
figure over pubsub's in the same round, median of the rounds. "lost" adds up every round's
deliveries that never came.

**Caveats.** Redis, the app servers and the publisher share the machine's cores, so delivered/s is
bounded by whichever is busiest; CPU per message and the ratios are the steadier figures. Redis's CPU
includes its own background work (\`serverCron\`), which weighs on the paced phase's small totals
alike for both. Under saturation the latency columns are mostly queueing behind the publish window;
the paced ones are the fan-out's own latency. The pubsub servers run the
product's full subscription path (offset checks per message); the xread loop is a bare benchmark
loop that does none of what a product would need (epoch changes, a blocked call to interrupt with
\`CLIENT UNBLOCK\` or a timeout whenever the set of channels changes), which favours xread on server
CPU. One standalone Redis: on a Cluster both need one connection per shard. An xread reader more
than about 1,000 entries (\`history.maxLength\`) behind on a channel finds them trimmed; those count
as lost.
<!-- realtime-fanout:end -->`;
}
