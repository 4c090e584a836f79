/**
 * ioredis behind the store's narrow command interface. Fastify apps and many
 * older Express apps already hold an ioredis client; the store borrows it as it
 * borrows a node-redis one, and the app keeps ownership.
 *
 * `call()` sends a raw command and returns RESP2 replies untransformed (HGETALL
 * as a flat array), which is the shape the store decodes fastest. ioredis has
 * no per-command timer to switch off; the store's own deadline covers it.
 */
import type { RedisCommander } from './commander.js';

/** The parts of an ioredis 5 client (`new Redis()` or `new Redis.Cluster()`) the store uses. */
export interface IoredisClientLike {
  call(command: string, args: string[]): Promise<unknown>;
  /** "ready" once connected and usable; "connecting", "reconnecting", "end", ... otherwise. */
  readonly status: string;
}

/** ioredis clients have `call` and a string `status`; node-redis clients have neither. */
export function isIoredis(client: unknown): client is IoredisClientLike {
  const c = client as { call?: unknown; status?: unknown } | null;
  return !!c && typeof c.call === 'function' && typeof c.status === 'string';
}

export function borrowIoredis(client: IoredisClientLike): RedisCommander {
  return {
    // On a cluster, ioredis routes by the command's key itself.
    send: (_key, args) => client.call(args[0]!, args.slice(1)),
    // ioredis writes commands in call order on one connection (per node on a
    // cluster, where both route by the same key's node only for the write: WAIT
    // has no key, so durability on an ioredis cluster is not supported).
    sendThenWait: (_key, args, replicas, timeoutMs) =>
      Promise.all([
        client.call(args[0]!, args.slice(1)),
        client.call('WAIT', [String(replicas), String(timeoutMs)]),
      ]),
    // With its default offline queue, ioredis would hold commands while
    // disconnected and send them minutes later; checking status fails fast instead.
    get ready() {
      return client.status === 'ready';
    },
    connected: Promise.resolve(),
    close: async () => {},
  };
}
