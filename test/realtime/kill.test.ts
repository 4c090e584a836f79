/**
 * The claim of DESIGN §13, with an exact oracle: 100 SSE subscribers through the balancer
 * (random routing), ~1,000 numbered messages per second, the subscribers' servers SIGKILLed
 * five times and then a full rolling deploy: every subscriber gets every message once, in order.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Balancer, createBalancer } from '../../src/balancer/index.js';
import { createRealtime, type Realtime } from '../../src/realtime/index.js';
import type { AppProcess } from '../../src/system/app-process.js';
import { realtimeServer, type SseSubscriber, sseSubscriber } from '../helpers/realtime.js';
import { describeRedis, RedisServer } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/wait.js';

const SUBSCRIBERS = 100;
const CHANNELS = 10;
/** One message per channel per tick: 10 channels every 10 ms ≈ 1,000 messages/s. */
const TICK_MS = 10;
const MAX_MESSAGES_PER_CHANNEL = 4000;

describeRedis('realtime through server kills and a rolling deploy', () => {
  let redis: RedisServer;
  let lb: Balancer;
  let publisher: Realtime;
  const servers: AppProcess[] = [];
  let subscribers: SseSubscriber[] = [];
  let generation = 0;

  beforeAll(async () => {
    redis = await RedisServer.start();
    for (let i = 0; i < 3; i++) servers.push(realtimeServer(`app-${++generation}`, redis.url));
    await Promise.all(servers.map((s) => s.start()));
    lb = createBalancer({ backends: servers.map((s) => s.url), strategy: 'random' });
    await lb.listen(0, '127.0.0.1');
    publisher = createRealtime({ redis: { url: redis.url } });
  });

  afterAll(async () => {
    for (const s of subscribers) s.close();
    await publisher?.close({ windowMs: 1 });
    await lb?.close();
    await Promise.all(servers.map((s) => s.kill()));
    await redis?.stop();
  });

  /** A new server takes the place of `old` (a new process on a new port, as a deploy does). */
  async function replace(index: number, how: 'kill' | 'deploy'): Promise<void> {
    const old = servers[index]!;
    const id = new URL(old.url).host;
    if (how === 'deploy') {
      const drained = lb.drain(id);
      await old.stop(); // SIGTERM: the realtime library ends its streams with a retry hint
      await drained;
    } else {
      await old.kill();
    }
    const fresh = realtimeServer(`app-${++generation}`, redis.url);
    await fresh.start();
    lb.addBackend(fresh.url);
    // A killed server stays in the pool until now: reconnects that pick it are refused and retried.
    await lb.removeBackend(id);
    servers[index] = fresh;
  }

  it('loses, duplicates and reorders nothing', { timeout: 120_000 }, async () => {
    const run = `run${Date.now()}`;
    const channels = Array.from({ length: CHANNELS }, (_, i) => `room:${run}-${i}`);
    const base = `http://127.0.0.1:${lb.server.address() && (lb.server.address() as { port: number }).port}`;
    subscribers = Array.from({ length: SUBSCRIBERS }, (_, i) =>
      sseSubscriber(`${base}/live?channel=${channels[i % CHANNELS]}`),
    );
    await waitFor(() => subscribers.every((s) => s.ready), {
      timeoutMs: 20_000,
      what: 'every subscriber to be ready',
    });

    let sent = 0;
    let publishing = true;
    const published = (async () => {
      while (publishing && sent < MAX_MESSAGES_PER_CHANNEL) {
        const tick = new Promise((resolve) => setTimeout(resolve, TICK_MS));
        sent++;
        await Promise.all(channels.map((c) => publisher.publish(c, { n: sent })));
        await tick;
      }
    })();

    const delivered = () => Math.min(...subscribers.map((s) => s.oracle.last));
    let mark = 0;
    const progressed = async () => {
      mark = sent;
      await waitFor(() => delivered() >= mark, { timeoutMs: 20_000, what: 'every subscriber to catch up' });
    };
    for (let k = 0; k < 5; k++) {
      await progressed();
      await replace(k % servers.length, 'kill');
    }
    for (let i = 0; i < servers.length; i++) {
      await progressed();
      await replace(i, 'deploy');
    }
    await progressed();
    publishing = false;
    await published;

    await waitFor(() => subscribers.every((s) => s.oracle.seen.size >= sent), {
      timeoutMs: 30_000,
      what: `every subscriber to have all ${sent} messages`,
    });
    const totals = { lost: 0, duplicated: 0, reordered: 0, resets: 0, failed: 0 };
    for (const s of subscribers) {
      totals.lost += s.oracle.lost(sent);
      totals.duplicated += s.oracle.duplicated;
      totals.reordered += s.oracle.reordered;
      totals.resets += s.oracle.resets;
      if (s.failed) totals.failed++;
    }
    expect(totals).toEqual({ lost: 0, duplicated: 0, reordered: 0, resets: 0, failed: 0 });
    // The faults did cut the subscribers: the deploy cut every one at least once, the kills many.
    const opened = subscribers.map((s) => s.opened);
    console.log(
      `realtime kill test: ${sent} messages per channel, reconnects min ${Math.min(...opened) - 1} total ${opened.reduce((a, b) => a + b) - SUBSCRIBERS}`,
    );
    expect(Math.min(...opened)).toBeGreaterThanOrEqual(2);
    expect(opened.reduce((a, b) => a + b)).toBeGreaterThan(SUBSCRIBERS * 3);
    expect(sent).toBeGreaterThan(200);
  });
});
