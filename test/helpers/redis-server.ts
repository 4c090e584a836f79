/**
 * Redis for tests: a private server per suite (see src/system/redis-server.ts).
 * Tests never mock Redis; when the binary is missing they skip loudly, except
 * under CI=true, where a missing Redis fails the run.
 */
import { describe } from 'vitest';
import { findRedisServer } from '../../src/system/redis-server.js';

export {
  findRedisServer,
  freePort,
  RedisServer,
  type RedisServerOptions,
} from '../../src/system/redis-server.js';

const redisBinary = findRedisServer();

/** `describe` that runs only where redis-server exists; a hard failure under CI=true. */
export function describeRedis(name: string, fn: () => void): void {
  if (redisBinary) {
    describe(name, fn);
    return;
  }
  if (process.env.CI === 'true') {
    throw new Error(`redis-server is not on PATH but CI=true: "${name}" must run. Install redis-server.`);
  }
  console.warn(
    `\n!!! SKIPPING "${name}": redis-server is not on PATH. Install it (apt-get install -y redis-server) to run the Redis tests. !!!\n`,
  );
  describe.skip(name, fn);
}
