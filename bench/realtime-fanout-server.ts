/**
 * One simulated app server of `npm run bench:realtime-fanout`, in a process of its own so that the
 * servers share no event loop with each other or with the publisher. It follows the channels it is
 * given the way its variant says:
 *
 * - pubsub: what unpinned ships. A Realtime instance with one `subscribe()` per channel: the
 *   fan-out's one SSUBSCRIBE connection, and each Subscription's offset bookkeeping.
 * - xread: one connection blocked in `XREAD BLOCK 0 STREAMS k1..kC id1..idC` over every channel's
 *   history stream, re-armed with the last ids as soon as a batch is in, before the batch is
 *   handled (no COUNT: a batch takes everything there is, the most one wake-up can bring).
 *
 * Each message carries its publish time on CLOCK_MONOTONIC (process.hrtime, one clock for every
 * process of the machine), so delivery latency is measured across processes without clock skew.
 * The coordinator drives it over IPC: setup, then per phase expect → done → report.
 */
import { encodeIntoCompressedBase64 } from 'hdr-histogram-js';
import { createClient } from 'redis';
import { newHistogram } from '../src/lab/recorder.js';
import { keysOf } from '../src/realtime/channel.js';
import { createRealtime } from '../src/realtime/index.js';
import { type FromServer, nowUs, type ToServer } from './realtime-fanout-protocol.js';

let histogram = newHistogram();
let delivered = 0;
let gaps = 0;
let expected = Number.POSITIVE_INFINITY;
let lastAtUs = 0;
let settled = false;
let cpu = process.cpuUsage();
let stop: () => Promise<unknown> = async () => {};

function send(message: FromServer): void {
  process.send!(message);
}

function fail(message: string): void {
  send({ type: 'failed', message });
}

function settle(): void {
  if (settled || delivered + gaps < expected) return;
  settled = true;
  send({ type: 'done' });
}

function record(data: string): void {
  const t = nowUs();
  histogram.recordValue(Math.max(1, t - (JSON.parse(data) as { t: number }).t));
  lastAtUs = t;
  delivered++;
  settle();
}

async function followPubsub(url: string, prefix: string, channels: string[]): Promise<() => Promise<void>> {
  // A long command deadline: 1,000 subscriptions per process start at once on a busy 2-core machine.
  const realtime = createRealtime({ redis: { url }, prefix, commandTimeoutMs: 30_000 });
  await Promise.all(
    channels.map((channel) =>
      realtime.subscribe(channel, {}, (event) => {
        if (event.type === 'message') record(event.data);
        else if (event.type === 'reset') gaps++;
        else if (event.type === 'error') fail(event.message);
      }),
    ),
  );
  return () => realtime.close({ windowMs: 1 });
}

type Entries = [id: string, fields: string[]][];
// RESP3 (node-redis 6's default, as the pubsub side uses) answers XREAD with a map, which node-redis
// makes an object; RESP2 with an array of [key, entries].
type XreadReply = Record<string, Entries> | [key: string, entries: Entries][] | null;

function streamsOf(reply: XreadReply): [string, Entries][] {
  if (reply === null) return [];
  return Array.isArray(reply) ? reply : Object.entries(reply);
}

async function followXread(url: string, prefix: string, channels: string[]): Promise<() => Promise<void>> {
  // node-redis's default command timeout would end a BLOCK 0; RedisLink turns it off the same way.
  const client = createClient({ url, disableOfflineQueue: true, commandOptions: { timeout: 0 } });
  client.on('error', () => {});
  await client.connect();
  const keys = channels.map((channel) => keysOf(prefix, channel).log);
  const index = new Map(keys.map((key, i) => [key, i]));
  // Explicit ids from the start (the streams are fresh): no window in which `$` could miss an entry.
  const ids = keys.map(() => '0-0');
  let running = keys.length > 0;
  const read = () => client.sendCommand<XreadReply>(['XREAD', 'BLOCK', '0', 'STREAMS', ...keys, ...ids]);
  const loop = async () => {
    let pending = read();
    while (running) {
      let streams: [string, Entries][];
      try {
        streams = streamsOf(await pending);
      } catch (error) {
        if (running) fail(`XREAD failed: ${(error as Error).message}`);
        return;
      }
      const before = streams.map(([key]) => Number.parseInt(ids[index.get(key)!]!, 10));
      for (const [key, entries] of streams) {
        if (entries.length > 0) ids[index.get(key)!] = entries[entries.length - 1]![0];
      }
      // Re-armed before this batch is handled, so Redis can hold the next entries meanwhile.
      pending = read();
      pending.catch(() => {}); // awaited at the top of the loop; this only keeps it from being unhandled
      for (const [s, [, entries]] of streams.entries()) {
        let last = before[s]!;
        for (const [id, fields] of entries) {
          // Entry ids are `<offset>-0`: a jump means entries trimmed (MAXLEN) before this read.
          const offset = Number.parseInt(id, 10);
          if (offset > last + 1) gaps += offset - last - 1;
          last = offset;
          record(fields[1]!);
        }
      }
    }
  };
  void loop();
  return async () => {
    running = false;
    client.destroy();
  };
}

async function handle(message: ToServer): Promise<void> {
  switch (message.type) {
    case 'setup': {
      const follow = message.variant === 'pubsub' ? followPubsub : followXread;
      stop = await follow(message.url, message.prefix, message.channels);
      send({ type: 'ready' });
      return;
    }
    case 'expect':
      histogram = newHistogram();
      delivered = 0;
      gaps = 0;
      lastAtUs = 0;
      settled = false;
      expected = message.deliveries;
      cpu = process.cpuUsage();
      send({ type: 'armed' });
      settle();
      return;
    case 'report': {
      const used = process.cpuUsage(cpu);
      const report = {
        delivered,
        gaps,
        lastAtUs,
        cpuUs: used.user + used.system,
        histogram: encodeIntoCompressedBase64(histogram),
      };
      send({ type: 'report', report });
      return;
    }
    case 'exit':
      await stop().catch(() => {});
      process.exit(0);
  }
}

process.on('message', (message: ToServer) => {
  handle(message).catch((error: unknown) => fail(String((error as Error)?.stack ?? error)));
});
// The coordinator is gone (crashed or killed): nobody will ever say exit.
process.on('disconnect', () => process.exit(0));
