/**
 * Asks the session store, once a second, whether it answers and how many sessions it holds.
 *
 * Counting must stay cheap at any size, so it never walks the keyspace with SCAN. One Lua
 * script (one round trip) reads DBSIZE, then:
 * - when the keyspace is small (at most `exactUpTo` keys, and only on the private Redis that
 *   `unpinned up` started), counts the session keys exactly with KEYS: a few hundred
 *   microseconds of Redis time at that size;
 * - otherwise estimates: DBSIZE × the share of session keys among 64 RANDOMKEY samples (each
 *   O(1)). The per-user indexes share the keyspace, so DBSIZE alone would count them too.
 * What it measures: keys under `<prefix>s:` that Redis has not yet expired, i.e. sessions that
 * are live or expired within the last moments (Redis deletes expired keys lazily and in a
 * background sweep several times a second).
 *
 * The client is a minimal RESP one (system/resp.ts: one connection per probe): the dashboard has
 * no dependency on a Redis client library, and a probe never queues behind a dead connection.
 */
import { exchange } from '../system/resp.js';

const COUNT = `
local n = redis.call('DBSIZE')
local prefix = ARGV[1]
if n <= tonumber(ARGV[2]) then
  return {#redis.call('KEYS', prefix .. '*'), n, 1}
end
local hits = 0
for i = 1, 64 do
  local key = redis.call('RANDOMKEY')
  if key and string.sub(key, 1, #prefix) == prefix then hits = hits + 1 end
end
return {math.floor(n * hits / 64 + 0.5), n, 0}
`;

export interface StoreProbe {
  up: boolean;
  /** Round trip of the probe, in milliseconds. */
  ms: number | null;
  sessions: number | null;
  exact: boolean;
  keys: number | null;
  error?: string;
}

export interface ProbeOptions {
  url: string;
  /** Key prefix of sessions (the Redis store's default is `unpinned:`, sessions under `s:`). */
  prefix?: string;
  /** Count exactly up to this many keys; 0 always estimates (a shared, external Redis). */
  exactUpTo?: number;
  timeoutMs?: number;
}

/** Probe a Redis store once. Never throws: an unreachable store is `{ up: false }`. */
export async function probeRedis(options: ProbeOptions): Promise<StoreProbe> {
  const url = new URL(options.url);
  const prefix = `${options.prefix ?? 'unpinned:'}s:`;
  const commands: string[][] = [];
  if (url.password) {
    const user = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    commands.push(user ? ['AUTH', user, password] : ['AUTH', password]);
  }
  const db = url.pathname.slice(1);
  if (db) commands.push(['SELECT', db]);
  commands.push(['EVAL', COUNT, '0', prefix, String(options.exactUpTo ?? 2000)]);
  const started = performance.now();
  try {
    const replies = await exchange(url, commands, options.timeoutMs ?? 800);
    const last = replies[replies.length - 1];
    if (!Array.isArray(last)) throw new Error(`unexpected reply ${String(last)}`);
    const [sessions, keys, exact] = last as number[];
    return {
      up: true,
      ms: performance.now() - started,
      sessions: sessions ?? null,
      keys: keys ?? null,
      exact: exact === 1,
    };
  } catch (error) {
    return { up: false, ms: null, sessions: null, keys: null, exact: false, error: (error as Error).message };
  }
}
