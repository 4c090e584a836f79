import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateToken, sessionIdOf } from '../../src/session/token.js';
import { type RedisStore, redisStore } from '../../src/stores/redis/index.js';
import { describeRedis, RedisServer } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/wait.js';
import { createWrite, storeConformance } from './conformance.js';

describeRedis('redis store', () => {
  let server: RedisServer;
  let owned: RedisStore;
  const resp3 = { client: null as ReturnType<typeof createClient> | null, store: null as RedisStore | null };
  const resp2 = { client: null as ReturnType<typeof createClient> | null, store: null as RedisStore | null };
  const io = { client: null as Redis | null, store: null as RedisStore | null };
  beforeAll(async () => {
    server = await RedisServer.start();
    owned = redisStore({ url: server.url });
    await owned.ready();
    // Clients an app already has, with node-redis defaults (RESP3, offline queue on) and RESP2.
    resp3.client = createClient({ url: server.url });
    resp2.client = createClient({ url: server.url, RESP: 2 });
    for (const c of [resp3, resp2]) {
      c.client!.on('error', () => {});
      await c.client!.connect();
      c.store = redisStore({ client: c.client! });
    }
    // ioredis as a Fastify app would have it (offline queue on), without re-sends (see options).
    io.client = new Redis(server.url, { autoResendUnfulfilledCommands: false });
    io.client.on('error', () => {});
    await waitFor(() => io.client!.status === 'ready', { what: 'ioredis to connect' });
    io.store = redisStore({ client: io.client });
  });
  afterAll(async () => {
    await owned?.close();
    for (const c of [resp3, resp2]) await c.client?.close().catch(() => {});
    io.client?.disconnect();
    await server?.close();
  });

  storeConformance('redis (store-owned client)', () => ({ store: owned, now: Date.now }));
  storeConformance("redis (the app's node-redis client, RESP3)", () => ({
    store: resp3.store!,
    now: Date.now,
  }));
  storeConformance("redis (the app's node-redis client, RESP2)", () => ({
    store: resp2.store!,
    now: Date.now,
  }));

  storeConformance("redis (the app's ioredis client)", () => ({ store: io.store!, now: Date.now }));

  describe('user index under a racing login', () => {
    const bindWrite = (userId: string) => ({
      set: [],
      delete: [],
      userId,
      expiresAt: Date.now() + 3_600_000,
      absoluteExpiresAt: Date.now() + 86_400_000,
      now: Date.now(),
    });

    it('heals an entry that a listing pruned between the index add and the bind', async () => {
      const id = sessionIdOf(generateToken());
      const user = `erin-${id.slice(0, 8)}`;
      await owned.write(id, createWrite(Date.now(), { a: 1 }));
      // What a login does first: the index entry, before the bind lands.
      await resp3.client!.zAdd(owned.userKey(user), { score: Date.now() + 86_400_000, value: id });
      expect(await owned.listByUser(user, Date.now())).toEqual([]);
      await owned.write(id, bindWrite(user));
      expect((await owned.listByUser(user, Date.now())).map((s) => s.id)).toEqual([id]);
      expect(await owned.destroyByUser(user)).toBe(1);
    });

    it('keeps the entry of a session that revoke-all could not destroy because it is not bound yet', async () => {
      const id = sessionIdOf(generateToken());
      const user = `frank-${id.slice(0, 8)}`;
      await owned.write(id, createWrite(Date.now(), { a: 1 }));
      await resp3.client!.zAdd(owned.userKey(user), { score: Date.now() + 86_400_000, value: id });
      expect(await owned.destroyByUser(user)).toBe(0);
      expect(await resp3.client!.zScore(owned.userKey(user), id)).not.toBeNull();
    });
  });

  describe('options', () => {
    it('refuses to guess between a url and a client', () => {
      expect(() => redisStore({})).toThrow(/url \/ cluster \/ sentinel \/ client/);
      expect(() => redisStore({ url: server.url, client: resp3.client! })).toThrow(/exactly one/);
      expect(() => redisStore({ url: server.url, cluster: { rootNodes: [server.url] } })).toThrow(
        /exactly one.*url, cluster/,
      );
      expect(() => redisStore({ url: server.url, commandTimeout: 0 })).toThrow(/commandTimeout/);
    });

    it('checks the durability option: at least one replica, a WAIT shorter than the command deadline', () => {
      const url = server.url;
      expect(() => redisStore({ url, durability: { replicas: 0, timeoutMs: 100 } })).toThrow(
        /durability.replicas/,
      );
      expect(() =>
        redisStore({ url, commandTimeout: 300, durability: { replicas: 1, timeoutMs: 300 } }),
      ).toThrow(/durability.timeoutMs.*1 to 299/);
      expect(() => redisStore({ url, durability: { replicas: 1, timeoutMs: 0 } })).toThrow(
        /durability.timeoutMs/,
      );
    });

    it('fails a durable write that no replica acknowledged, though the master has it', async () => {
      const store = redisStore({ client: resp3.client!, durability: { replicas: 1, timeoutMs: 20 } });
      const id = sessionIdOf(generateToken());
      const error = await store.write(id, createWrite(Date.now(), { a: 1 })).catch((e: unknown) => e);
      expect(error).toMatchObject({
        code: 'UNPINNED_ERR_NOT_REPLICATED',
        statusCode: 503,
        headers: { 'retry-after': '1' },
      });
      expect((await store.load(id))!.data.get('a')).toBe('1');
    });

    it('refuses an ioredis client that re-sends commands after a reconnect (the default), saying how to create one', () => {
      const lazy = { lazyConnect: true };
      for (const [client, fix] of [
        [new Redis(server.url, lazy), /new Redis\(url, \{ autoResendUnfulfilledCommands: false \}\)/],
        [
          new Redis.Cluster([server.url], { lazyConnect: true }),
          /redisOptions: \{ autoResendUnfulfilledCommands: false \}/,
        ],
      ] as const) {
        expect(() => redisStore({ client })).toThrow(
          expect.objectContaining({
            code: 'UNPINNED_ERR_INVALID_OPTION',
            message: expect.stringMatching(fix),
          }),
        );
      }
      const safe = { ...lazy, autoResendUnfulfilledCommands: false };
      expect(redisStore({ client: new Redis(server.url, safe) })).toBeDefined();
      expect(
        redisStore({ client: new Redis.Cluster([server.url], { ...lazy, redisOptions: safe }) }),
      ).toBeDefined();
    });

    it('keys sessions under its prefix, by the hash of the token', async () => {
      const store = redisStore({ client: resp3.client!, prefix: 'shop1:' });
      const token = generateToken();
      await store.write(sessionIdOf(token), createWrite(Date.now(), { a: 1 }));
      expect(await resp3.client!.exists(`shop1:s:${sessionIdOf(token)}`)).toBe(1);
      expect(await resp3.client!.keys(`*${token}*`)).toEqual([]);
    });

    it('logs everybody out at once under a new prefix (ASVS V7.4.5, all users)', async () => {
      const before = redisStore({ client: resp3.client!, prefix: 'rotate-1:' });
      const id = sessionIdOf(generateToken());
      await before.write(id, createWrite(Date.now(), { a: 1 }));
      expect(await before.load(id)).not.toBeNull();
      // The documented procedure (docs/security.md): deploy with another prefix.
      const after = redisStore({ client: resp3.client!, prefix: 'rotate-2:' });
      expect(await after.load(id)).toBeNull();
      // The old keys keep nothing alive: they expire on their own TTL.
      expect(await resp3.client!.pTTL(`rotate-1:s:${id}`)).toBeGreaterThan(0);
    });
  });
});

describeRedis('redis store without a server', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await RedisServer.start();
  });
  afterAll(async () => {
    await server?.close();
  });

  it("fails fast, instead of queueing, when an app's client (offline queue on) is disconnected", async () => {
    const client = createClient({ url: server.url, socket: { reconnectStrategy: 50 } });
    client.on('error', () => {});
    await client.connect();
    const store = redisStore({ client, commandTimeout: 60_000 });
    await server.stop();
    await expect.poll(() => client.isReady).toBe(false);
    // With a 60 s deadline, only the readiness check can make this fail at once.
    const error = await store.load(sessionIdOf(generateToken())).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'UNPINNED_ERR_STORE_UNAVAILABLE', statusCode: 503 });
    await server.restart();
    await expect.poll(() => client.isReady, { timeout: 10_000 }).toBe(true);
    expect(await store.load(sessionIdOf(generateToken()))).toBeNull();
    await client.close();
  });

  it('fails fast with an ioredis client (offline queue on) while disconnected, and recovers', async () => {
    const client = new Redis(server.url, { retryStrategy: () => 50, autoResendUnfulfilledCommands: false });
    client.on('error', () => {});
    await waitFor(() => client.status === 'ready', { what: 'ioredis to connect' });
    const store = redisStore({ client, commandTimeout: 60_000 });
    const id = sessionIdOf(generateToken());
    await store.write(id, createWrite(Date.now(), { cart: ['a'] }));
    await server.stop();
    await waitFor(() => client.status !== 'ready', { what: 'ioredis to notice the outage' });
    const error = await store.load(id).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'UNPINNED_ERR_STORE_UNAVAILABLE', statusCode: 503 });
    await server.restart();
    await waitFor(() => client.status === 'ready', { what: 'ioredis to reconnect' });
    // The server was restarted without persistence: the session is gone, and says so as null.
    expect(await store.load(id)).toBeNull();
    client.disconnect();
  });

  it('answers within the command deadline when the server is frozen, then recovers', async () => {
    const store = redisStore({ url: server.url, commandTimeout: 200 });
    await store.ready();
    server.freeze();
    try {
      const error = await store.load(sessionIdOf(generateToken())).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'UNPINNED_ERR_STORE_UNAVAILABLE' });
      expect((error as Error).cause).toMatchObject({ name: 'TimeoutError' });
    } finally {
      server.thaw();
    }
    await expect.poll(() => store.load(sessionIdOf(generateToken())), { timeout: 10_000 }).toBeNull();
    await store.close();
  });
});
