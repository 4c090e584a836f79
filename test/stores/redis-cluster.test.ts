/**
 * The Redis store on a real local Redis Cluster (3 masters, 3 replicas): the
 * conformance suite unchanged, and a user whose sessions live on different
 * masters listed and revoked correctly.
 */
import { createCluster } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateToken, sessionIdOf } from '../../src/session/token.js';
import { type RedisStore, redisStore } from '../../src/stores/redis/index.js';
import { RedisCluster } from '../../src/system/redis-cluster.js';
import { describeRedis } from '../helpers/redis-server.js';
import { createWrite, storeConformance } from './conformance.js';

describeRedis('redis store on Redis Cluster', () => {
  let cluster: RedisCluster;
  let owned: RedisStore;
  let client: ReturnType<typeof createCluster>;
  let borrowed: RedisStore;
  beforeAll(async () => {
    cluster = await RedisCluster.start();
    owned = redisStore({ cluster: { rootNodes: cluster.rootNodes.map((n) => n.url) } });
    await owned.ready();
    client = createCluster({ rootNodes: cluster.rootNodes });
    client.on('error', () => {});
    await client.connect();
    borrowed = redisStore({ client });
  });
  afterAll(async () => {
    await owned?.close();
    await client?.close().catch(() => {});
    await cluster?.close();
  });

  storeConformance('redis cluster (store-owned cluster client)', () => ({ store: owned, now: Date.now }));
  storeConformance("redis cluster (the app's createCluster client)", () => ({
    store: borrowed,
    now: Date.now,
  }));

  /** Address of the master that holds `key`, as the cluster itself reports it. */
  async function masterOf(key: string): Promise<string> {
    const slot = Number(await client.sendCommand(undefined, true, ['CLUSTER', 'KEYSLOT', key]));
    return `${client.slots[slot]!.master.host}:${client.slots[slot]!.master.port}`;
  }

  describe('a user whose sessions are spread over the masters', () => {
    it('lists and revokes them all, though no script spans two slots', async () => {
      const user = `spread-${generateToken().slice(0, 8)}`;
      // At least 24 sessions, and on every master (chosen, not left to chance).
      const ids: string[] = [];
      const masters = new Set<string>();
      while ((masters.size < 3 || ids.length < 24) && ids.length < 300) {
        const id = sessionIdOf(generateToken());
        ids.push(id);
        masters.add(await masterOf(owned.sessionKey(id)));
      }
      expect(masters.size).toBe(3);
      const t = Date.now();
      await Promise.all(ids.map((id) => owned.write(id, createWrite(t, { a: 1 }, { userId: user }))));
      // The index lives in its own slot, apart from at least some of the sessions.
      const indexMaster = await masterOf(owned.userKey(user));
      expect([...masters].some((m) => m !== indexMaster)).toBe(true);

      expect((await owned.listByUser(user, Date.now())).map((s) => s.id).sort()).toEqual([...ids].sort());
      expect(await borrowed.destroyForUser(user, ids[0]!)).toBe(true);
      expect(await owned.destroyByUser(user, { except: ids[1]! })).toBe(ids.length - 2);
      const left = await Promise.all(ids.map((id) => borrowed.load(id)));
      expect(left.map((s, i) => (s ? i : -1)).filter((i) => i >= 0)).toEqual([1]);
      expect((await borrowed.listByUser(user, Date.now())).map((s) => s.id)).toEqual([ids[1]]);
    });

    it('waits for a replica of the right master with the durability option', async () => {
      const durable = redisStore({ client, durability: { replicas: 1, timeoutMs: 400 } });
      // Sessions on every master, chosen rather than hoped for: random ids can miss one.
      const ids: string[] = [];
      const masters = new Set<string>();
      while (masters.size < 3 && ids.length < 200) {
        const id = sessionIdOf(generateToken());
        ids.push(id);
        masters.add(await masterOf(durable.sessionKey(id)));
      }
      expect(masters.size).toBe(3);
      const t = Date.now();
      const results = await Promise.all(ids.map((id) => durable.write(id, createWrite(t, { a: 1 }))));
      expect(results.every((r) => r.status === 'ok')).toBe(true);
      // Two replicas per master do not exist: the write lands on the master, WAIT says so.
      const strict = redisStore({ client, durability: { replicas: 2, timeoutMs: 50 } });
      const error = await strict
        .write(ids[0]!, { ...createWrite(t), create: undefined, set: [['b', '2']] })
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'UNPINNED_ERR_NOT_REPLICATED', statusCode: 503 });
      expect((await durable.load(ids[0]!))!.data.get('b')).toBe('2');
    });
  });
});
