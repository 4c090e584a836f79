/**
 * Where legacy express-session sessions are read from during the migration:
 * straight from Redis in connect-redis's format (`sess:<sid>` holding JSON), or
 * through any express-session store object (connect-mongo, a custom one...).
 */
import { borrowClient, type RedisClientLike } from '../../stores/redis/commander.js';

export type LegacySession = Record<string, unknown>;

export interface LegacySource {
  get(sid: string): Promise<LegacySession | null>;
  destroy(sid: string): Promise<void>;
}

export interface ConnectRedisOptions {
  /** The app's node-redis 6 or ioredis 5 client, connected to the Redis connect-redis used. */
  client: RedisClientLike;
  /** connect-redis's `prefix`. Default `sess:`. */
  prefix?: string;
  /** connect-redis's `serializer.parse`. Default JSON.parse. */
  parse?: (text: string) => unknown;
}

export function connectRedisSource(options: ConnectRedisOptions): LegacySource {
  const redis = borrowClient(options.client);
  const prefix = options.prefix ?? 'sess:';
  const parse = options.parse ?? JSON.parse;
  const send = (args: string[]) => {
    if (!redis.ready) return Promise.reject(new Error('the legacy Redis connection is down'));
    return redis.send(args[1]!, args);
  };
  return {
    async get(sid) {
      const text = await send(['GET', prefix + sid]);
      if (typeof text !== 'string') return null;
      try {
        const value = parse(text);
        return value && typeof value === 'object' ? (value as LegacySession) : null;
      } catch {
        // Unreadable legacy data is nothing to import, not an outage.
        return null;
      }
    },
    async destroy(sid) {
      await send(['DEL', prefix + sid]);
    },
  };
}

/** The callback API every express-session store has. */
export interface ExpressSessionStoreLike {
  get(sid: string, callback: (error: unknown, session?: LegacySession | null) => void): void;
  destroy(sid: string, callback?: (error?: unknown) => void): void;
}

export function expressStoreSource(store: ExpressSessionStoreLike): LegacySource {
  return {
    get: (sid) =>
      new Promise((resolve, reject) =>
        store.get(sid, (error, session) => (error ? reject(error) : resolve(session ?? null))),
      ),
    destroy: (sid) =>
      new Promise((resolve, reject) => store.destroy(sid, (error) => (error ? reject(error) : resolve()))),
  };
}
