/**
 * The keys of the check's private Redis at the end of a run, read before the next run empties
 * it: a session the replicas did share (a key holding the session id) but would not accept from
 * each other's cookies means a cookie secret each process made for itself, not sessions in
 * memory. Only ever asked of the private server, which holds a few runs' worth of keys.
 */
import { exchange } from '../system/resp.js';

/** At most this many keys: a journey's sessions, carts and counters, never a real data set. */
const limit = 10_000;

/**
 * Every key of the Redis at `url` (`KEYS *`), or null when it cannot tell.
 *
 * @example
 * await storeKeys('redis://127.0.0.1:41234'); // ['sess:Qm3…', 'cart:ann']
 */
export async function storeKeys(url: string, timeoutMs = 2_000): Promise<string[] | null> {
  try {
    const [keys] = await exchange(new URL(url), [['KEYS', '*']], timeoutMs);
    if (!Array.isArray(keys) || keys.length > limit) return null;
    return keys.filter((k): k is string => typeof k === 'string');
  } catch {
    return null;
  }
}
