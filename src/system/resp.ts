/**
 * A minimal Redis client: one connection, a few commands sent at once, their replies, then the
 * connection closed. For the few places that ask a Redis one question (the dashboard's store
 * probe, the check's look at what a run left in its private Redis) and must not depend on a
 * Redis client library, nor queue behind a connection that died.
 */
import { connect } from 'node:net';

/**
 * Sends `commands` to the Redis at `url` and resolves with one reply each (RESP2: strings,
 * numbers, null, arrays). An error reply, a timeout or a refused connection rejects.
 *
 * @example
 * await exchange(new URL('redis://127.0.0.1:41234'), [['KEYS', '*']], 2000); // [['sess:Qm3…']]
 */
export function exchange(url: URL, commands: string[][], timeoutMs: number): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 6379) });
    let buffer = Buffer.alloc(0);
    const fail = (error: Error) => {
      socket.destroy();
      reject(error);
    };
    socket.setTimeout(timeoutMs, () => fail(new Error(`no answer within ${timeoutMs} ms`)));
    socket.on('error', fail);
    socket.on('connect', () => socket.write(commands.map(encode).join('')));
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      try {
        const replies: unknown[] = [];
        let at = 0;
        while (replies.length < commands.length) {
          const parsed = parse(buffer, at);
          if (!parsed) return; // incomplete: wait for more
          replies.push(parsed.value);
          at = parsed.next;
        }
        socket.end();
        resolve(replies);
      } catch (error) {
        fail(error as Error);
      }
    });
  });
}

function encode(args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}

/** One RESP2 reply at byte `at`, or null when it is not complete yet. Errors throw. */
function parse(data: Buffer, at: number): { value: unknown; next: number } | null {
  const eol = data.indexOf('\r\n', at);
  if (eol < 0) return null;
  const type = String.fromCharCode(data[at]!);
  const line = data.toString('utf8', at + 1, eol);
  if (type === '-') throw new Error(line);
  if (type === '+') return { value: line, next: eol + 2 };
  if (type === ':') return { value: Number(line), next: eol + 2 };
  if (type === '$') {
    const length = Number(line);
    if (length < 0) return { value: null, next: eol + 2 };
    // Lengths are in bytes: a key may be any UTF-8.
    if (data.length < eol + 2 + length + 2) return null;
    return { value: data.toString('utf8', eol + 2, eol + 2 + length), next: eol + 2 + length + 2 };
  }
  if (type === '*') {
    const items: unknown[] = [];
    let next = eol + 2;
    for (let i = 0; i < Number(line); i++) {
      const item = parse(data, next);
      if (!item) return null;
      items.push(item.value);
      next = item.next;
    }
    return { value: items, next };
  }
  throw new Error(`unexpected reply type ${type}`);
}
