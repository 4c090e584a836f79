/**
 * The keys of the check's private Redis at the end of a run, read before the next run empties
 * it: a session the replicas did share (a key holding the session id) but would not accept from
 * each other's cookies means a cookie secret each process made for itself, not sessions in
 * memory. Only ever asked of the private server, which holds a few runs' worth of keys.
 */
import { connect } from 'node:net';

/** At most this many keys: a journey's sessions, carts and counters, never a real data set. */
const limit = 10_000;

/**
 * Every key of the Redis at `url` (`KEYS *`, RESP2), or null when it cannot tell.
 *
 * @example
 * await storeKeys('redis://127.0.0.1:41234'); // ['sess:Qm3…', 'cart:ann']
 */
export function storeKeys(url: string, timeoutMs = 2_000): Promise<string[] | null> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port || 6379), hostname.replace(/^\[|\]$/g, ''));
    let data = Buffer.alloc(0);
    const done = (keys: string[] | null) => {
      socket.destroy();
      resolve(keys);
    };
    socket.setTimeout(timeoutMs, () => done(null));
    socket.on('error', () => done(null));
    socket.on('connect', () => socket.write('*2\r\n$4\r\nKEYS\r\n$1\r\n*\r\n'));
    socket.on('data', (chunk) => {
      data = Buffer.concat([data, chunk]);
      const parsed = parseArray(data);
      if (parsed !== undefined) done(parsed);
    });
  });
}

/** A RESP array of bulk strings: the keys, null for anything else, undefined while incomplete. */
function parseArray(data: Buffer): string[] | null | undefined {
  const text = data.toString('latin1');
  const head = text.indexOf('\r\n');
  if (head === -1) return undefined;
  if (text[0] !== '*') return null;
  const n = Number(text.slice(1, head));
  if (!Number.isInteger(n) || n < 0 || n > limit) return null;
  const keys: string[] = [];
  let at = head + 2;
  for (let i = 0; i < n; i++) {
    const end = text.indexOf('\r\n', at);
    if (end === -1) return undefined;
    if (text[at] !== '$') return null;
    const size = Number(text.slice(at + 1, end));
    if (end + 2 + size + 2 > data.length) return undefined;
    keys.push(data.subarray(end + 2, end + 2 + size).toString('utf8'));
    at = end + 2 + size + 2;
  }
  return keys;
}
