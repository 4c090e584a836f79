import { afterAll, beforeAll } from 'vitest';
import { type RedisStore, redisStore } from '../../src/stores/redis/index.js';
import { describeRedis, RedisServer } from '../helpers/redis-server.js';
import { storeConformance } from './conformance.js';

describeRedis('redis store', () => {
  let server: RedisServer;
  let store: RedisStore;
  beforeAll(async () => {
    server = await RedisServer.start();
    store = redisStore({ url: server.url });
    await store.ready();
  });
  afterAll(async () => {
    await store?.close();
    await server?.close();
  });
  storeConformance('redis (node-redis, store-owned client)', () => ({ store, now: Date.now }));
});
