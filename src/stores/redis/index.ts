export type { RedisClientLike } from './commander.js';
export { RedisStore, type RedisStoreOptions, redisStore } from './redis-store.js';
