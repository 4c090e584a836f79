/** Realtime on a real local Redis Cluster: hash-tagged keys, SPUBLISH from the script, resume, reset. */
import { createClient } from 'redis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createRealtime, type Realtime } from '../../src/realtime/index.js';
import { RedisCluster } from '../../src/system/redis-cluster.js';
import { describeRedis } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/wait.js';

describeRedis('realtime on Redis Cluster', () => {
  let cluster: RedisCluster;
  let a: Realtime;
  let b: Realtime;

  beforeAll(async () => {
    cluster = await RedisCluster.start();
    const redis = { cluster: { rootNodes: cluster.rootNodes.map((n) => n.url) } };
    a = createRealtime({ redis, authorizeRoom: () => true, history: { maxLength: 50 } });
    b = createRealtime({ redis, authorizeRoom: () => true, history: { maxLength: 50 } });
  }, 90_000);

  afterAll(async () => {
    await a?.close({ windowMs: 1 });
    await b?.close({ windowMs: 1 });
    await cluster?.close();
  });

  it('keeps each channel in one slot and fans out across shards, in order', async () => {
    const channels = Array.from({ length: 12 }, (_, i) => `room:c${i}-${Date.now()}`);
    const node = createClient({ url: cluster.nodes[0]!.url });
    await node.connect();
    const slots = new Set<number>();
    for (const channel of channels) {
      const k = a.keys(channel);
      const own = await Promise.all(
        [k.meta, k.log, k.live, k.presence].map((key) => node.sendCommand(['CLUSTER', 'KEYSLOT', key])),
      );
      expect(new Set(own).size).toBe(1);
      slots.add(Number(own[0]));
    }
    await node.close();
    expect(slots.size).toBeGreaterThan(3); // the channels really are spread over the shards
    const got = new Map<string, number[]>(channels.map((c) => [c, []]));
    for (const channel of channels) {
      await b.subscribe(channel, {}, (e) => {
        if (e.type === 'message') got.get(channel)!.push(JSON.parse(e.data));
      });
    }
    for (let n = 1; n <= 20; n++) await Promise.all(channels.map((c) => a.publish(c, n)));
    await waitFor(() => [...got.values()].every((list) => list.length === 20), {
      what: 'every message on every channel',
    });
    for (const list of got.values()) expect(list).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('resumes from an offset, and resets below the history', async () => {
    const channel = `room:resume-${Date.now()}`;
    let epoch = '';
    for (let n = 1; n <= 300; n++) epoch = (await a.publish(channel, n)).epoch;
    const resumed: number[] = [];
    const sub = await b.subscribe(channel, { epoch, offset: 295 }, (e) => {
      if (e.type === 'message') resumed.push(e.offset);
    });
    expect(resumed).toEqual([296, 297, 298, 299, 300]);
    sub.close();
    const events: string[] = [];
    await b.subscribe(channel, { epoch, offset: 10 }, (e) =>
      events.push(`${e.type}:${'offset' in e ? e.offset : ''}`),
    );
    expect(events).toEqual(['reset:300']);
  });
});
