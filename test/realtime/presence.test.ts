/** Presence survives no crash: a SIGKILLed server's members expire within one TTL, without keyspace notifications. */
import { createClient } from 'redis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createRealtime, type Realtime } from '../../src/realtime/index.js';
import type { AppProcess } from '../../src/system/app-process.js';
import { realtimeServer } from '../helpers/realtime.js';
import { describeRedis, RedisServer } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/wait.js';

const TTL_MS = 1500;

describeRedis('realtime presence', () => {
  let redis: RedisServer;
  let server: AppProcess;
  let realtime: Realtime;

  beforeAll(async () => {
    redis = await RedisServer.start();
    server = realtimeServer('app-1', redis.url, { PRESENCE_TTL_MS: String(TTL_MS) });
    await server.start();
    realtime = createRealtime({ redis: { url: redis.url }, presenceTtlMs: TTL_MS });
  });

  afterAll(async () => {
    await server?.kill();
    await realtime?.close({ windowMs: 1 });
    await redis?.stop();
  });

  it('shows a subscriber present while connected and forgets it within one TTL of a crash', async () => {
    const login = await fetch(`${server.url}/login?user=ann`);
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const controller = new AbortController();
    const stream = await fetch(`${server.url}/live?channel=room:crash`, {
      headers: { accept: 'text/event-stream', cookie },
      signal: controller.signal,
    });
    expect(stream.status).toBe(200);
    await waitFor(async () => (await realtime.presence('crash')).includes('ann'), { what: 'ann present' });
    const redisClient = createClient({ url: redis.url });
    await redisClient.connect();
    const key = realtime.keys('room:crash').presence;
    const expiry = async () => (await redisClient.zRangeWithScores(key, 0, -1))[0]!.score;
    // Renewed while connected: the expiry moves forward.
    const first = await expiry();
    await waitFor(async () => (await expiry()) > first, { what: 'a renewal' });
    expect(await realtime.presence('crash')).toEqual(['ann']);
    await server.kill();
    const killedAt = Date.now();
    controller.abort();
    const entries = await redisClient.zRangeWithScores(key, 0, -1);
    await redisClient.close();
    // Each entry's score is its expiry: no later than one TTL after the crash.
    expect(entries.length).toBe(1);
    expect(entries[0]!.score).toBeLessThanOrEqual(killedAt + TTL_MS);
    await waitFor(async () => (await realtime.presence('crash')).length === 0, {
      timeoutMs: TTL_MS * 4,
      what: 'ann gone',
    });
  });
});
