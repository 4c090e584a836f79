/** A raw TCP client for tests that must control exactly which bytes reach a server, and when. */
import { connect } from 'node:net';

/**
 * Writes `pieces` one after another (each in its own turn of the event loop) and returns
 * everything the server sends until it closes the connection. With `end`, the client then ends
 * its side (a client that sends one request and waits for the answer). With `until`, the client
 * closes as soon as what it received so far satisfies it (a keep-alive connection it is done with).
 */
export function exchange(
  port: number,
  pieces: string[],
  opts: { end?: boolean; until?: (received: string) => boolean } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    let out = '';
    socket.setEncoding('latin1');
    socket.on('data', (c: string) => {
      out += c;
      if (opts.until?.(out)) socket.destroy();
    });
    socket.on('close', () => resolve(out));
    socket.on('error', reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error('no close within 10 s')));
    const queue = [...pieces];
    const next = (): void => {
      const piece = queue.shift();
      if (piece === undefined) {
        if (opts.end) socket.end();
        return;
      }
      socket.write(piece, 'latin1');
      setImmediate(next);
    };
    socket.on('connect', next);
  });
}
