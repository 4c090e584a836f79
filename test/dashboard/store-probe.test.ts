/** The dashboard's store probe against a real redis-server: exact count, estimate, outage. */
import { createClient } from 'redis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { probeRedis } from '../../src/dashboard/store-probe.js';
import { trafficShares } from '../../src/dashboard/traffic.js';
import { describeRedis, RedisServer } from '../helpers/redis-server.js';

describeRedis('store probe', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await RedisServer.start();
    const client = createClient({ url: redis.url });
    await client.connect();
    // 300 sessions, 100 user indexes and 100 keys of someone else.
    for (let i = 0; i < 300; i++) await client.hSet(`unpinned:s:${i}`, '$m', '1');
    for (let i = 0; i < 100; i++) await client.zAdd(`unpinned:u:${i}`, { score: 1, value: 'x' });
    for (let i = 0; i < 100; i++) await client.set(`other:${i}`, 'x');
    await client.close();
  });
  afterAll(async () => {
    await redis?.close();
  });

  it('counts session keys exactly on a small keyspace, and only those under the session prefix', async () => {
    const probe = await probeRedis({ url: redis.url, exactUpTo: 1000 });
    expect(probe).toMatchObject({ up: true, sessions: 300, keys: 500, exact: true });
    expect(probe.ms).toBeGreaterThan(0);
  });

  it('estimates from DBSIZE and random samples past the limit (or on a shared Redis)', async () => {
    const probe = await probeRedis({ url: redis.url, exactUpTo: 0 });
    expect(probe).toMatchObject({ up: true, keys: 500, exact: false });
    // 64 samples of a 60% share: seven standard deviations either side.
    expect(probe.sessions).toBeGreaterThan(150);
    expect(probe.sessions).toBeLessThan(450);
  });

  it('reports a store that does not answer as down, without throwing', async () => {
    const stopped = await RedisServer.start();
    const url = stopped.url;
    await stopped.close();
    expect(await probeRedis({ url })).toMatchObject({ up: false, sessions: null, ms: null });
  });
});

it('shares traffic evenly at skew 0 and by a Zipf law at skew 1', () => {
  expect(trafficShares(4, 0)).toEqual([0.25, 0.25, 0.25, 0.25]);
  const skewed = trafficShares(20, 1);
  expect(skewed.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
  expect(skewed[0]).toBeGreaterThan(0.6);
  expect(skewed[0]! / skewed[1]!).toBeCloseTo(4, 9);
});
