/**
 * ioredis behind the store's narrow command interface. Fastify apps and many
 * older Express apps already hold an ioredis client; the store borrows it as it
 * borrows a node-redis one, and the app keeps ownership.
 *
 * `call()` sends a raw command and returns RESP2 replies untransformed (HGETALL
 * as a flat array), which is the shape the store decodes fastest. ioredis has
 * no per-command timer to switch off; the store's own deadline covers it.
 */
import { UnpinnedError } from '../../session/errors.js';
import type { RedisCommander } from './commander.js';

interface ResendOption {
  autoResendUnfulfilledCommands?: boolean;
}

/** The parts of an ioredis 5 client (`new Redis()` or `new Redis.Cluster()`) the store uses. */
export interface IoredisClientLike {
  call(command: string, args: string[]): Promise<unknown>;
  /** "ready" once connected and usable; "connecting", "reconnecting", "end", ... otherwise. */
  readonly status: string;
  /** The options it was created with; a cluster keeps its nodes' options under `redisOptions`. */
  readonly options?: ResendOption & { redisOptions?: ResendOption };
  readonly isCluster?: boolean;
  on?(event: 'close', listener: () => void): unknown;
}

/** ioredis clients have `call` and a string `status`; node-redis clients have neither. */
export function isIoredis(client: unknown): client is IoredisClientLike {
  const c = client as { call?: unknown; status?: unknown } | null;
  return !!c && typeof c.call === 'function' && typeof c.status === 'string';
}

export function borrowIoredis(client: IoredisClientLike): RedisCommander {
  // A command in flight when the connection drops never gets its reply, and
  // ioredis, which must not re-send it (see refuseResends), does not fail it
  // either: fail it at once, as node-redis does, rather than let its request
  // wait out the whole deadline.
  const inFlight = new Set<(error: Error) => void>();
  client.on?.('close', () => {
    const lost = new Error('the Redis connection closed before the reply came');
    for (const fail of inFlight) fail(lost);
    inFlight.clear();
  });
  const call = (command: string, args: string[]) =>
    new Promise<unknown>((resolve, reject) => {
      inFlight.add(reject);
      client.call(command, args).then(
        (reply) => {
          inFlight.delete(reject);
          resolve(reply);
        },
        (error: unknown) => {
          inFlight.delete(reject);
          reject(error);
        },
      );
    });
  return {
    // On a cluster, ioredis routes by the command's key itself.
    send: (_key, args) => call(args[0]!, args.slice(1)),
    // ioredis writes commands in call order on one connection (per node on a
    // cluster, where both route by the same key's node only for the write: WAIT
    // has no key, so durability on an ioredis cluster is not supported).
    sendThenWait: (_key, args, replicas, timeoutMs) =>
      Promise.all([call(args[0]!, args.slice(1)), call('WAIT', [String(replicas), String(timeoutMs)])]),
    // With its default offline queue, ioredis would hold commands while
    // disconnected and send them minutes later; checking status fails fast instead.
    get ready() {
      return client.status === 'ready';
    },
    connected: Promise.resolve(),
    close: async () => {},
  };
}

/**
 * ioredis re-sends, after a reconnect, every command whose reply the dropped
 * connection lost (`autoResendUnfulfilledCommands`, on by default). A session
 * increment that ran, lost its reply to a reset and ran again would be counted
 * twice and answered 200, and a cart update appended twice: the store refuses
 * such a client rather than break "N increments count N" in an outage.
 * Without re-sending, a command whose reply was lost fails, and its request gets
 * a 503 ("may or may not have landed"), as with node-redis.
 */
export function refuseResends(client: IoredisClientLike): void {
  const options = client.isCluster ? client.options?.redisOptions : client.options;
  if (options?.autoResendUnfulfilledCommands === false) return;
  const where = client.isCluster
    ? 'new Redis.Cluster(nodes, { redisOptions: { autoResendUnfulfilledCommands: false } })'
    : 'new Redis(url, { autoResendUnfulfilledCommands: false })';
  throw new UnpinnedError(
    'UNPINNED_ERR_INVALID_OPTION',
    `Invalid option "client": this ioredis client re-sends commands whose reply a dropped connection lost (autoResendUnfulfilledCommands, on by default), which can apply a session increment or update twice. Create it with ${where}.`,
  );
}
