/**
 * The few things the Redis store needs from a client: send a raw command, send
 * a write followed by WAIT on the same connection, and tell whether a command
 * sent now would go out at once. Keeping the store on this narrow interface lets
 * it run on whatever client the app already has: a node-redis client, a cluster
 * or a sentinel.
 */
import { UnpinnedError } from '../../session/errors.js';
import { borrowIoredis, type IoredisClientLike, isIoredis } from './ioredis.js';

export interface RedisCommander {
  /** Send one command; `key` routes it on a cluster. */
  send(key: string, args: string[]): Promise<unknown>;
  /**
   * Send `args`, then `WAIT replicas timeoutMs` on the same connection, in one
   * go: WAIT counts the replicas that acknowledged every write this connection
   * made before it. Resolves to [reply of args, replicas that acknowledged].
   */
  sendThenWait(key: string, args: string[], replicas: number, timeoutMs: number): Promise<[unknown, unknown]>;
  /**
   * Drop the connection and open a new one, when the store found it stalled
   * (half-open). Only for a client the store owns: an app's client is the app's
   * to replace.
   */
  replace?(): void;
  /** False while disconnected: the store then fails fast instead of queueing. */
  readonly ready: boolean;
  /** Resolves once the first connection is up. */
  readonly connected: Promise<void>;
  close(): Promise<void>;
}

type CommandOptions = { timeout?: number; typeMapping?: object };

/** The parts of a node-redis 6 client (standalone) the store uses. */
export interface NodeRedisClientLike {
  sendCommand(args: string[], options?: CommandOptions): Promise<unknown>;
  readonly isReady: boolean;
  readonly isOpen: boolean;
}

/** The parts of a node-redis 6 cluster client the store uses. */
export interface NodeRedisClusterLike {
  sendCommand(
    firstKey: string | undefined,
    isReadonly: boolean | undefined,
    args: string[],
    options?: CommandOptions,
  ): Promise<unknown>;
  getNodeClientForKey(key: string, isReadonly?: boolean): Promise<NodeRedisClientLike>;
  readonly isReady?: boolean;
  readonly isOpen: boolean;
  readonly masters: unknown;
}

/** The parts of a node-redis 6 sentinel client (`createSentinel()`) the store uses. */
export interface NodeRedisSentinelLike {
  sendCommand(isReadonly: boolean | undefined, args: string[], options?: CommandOptions): Promise<unknown>;
  getMasterNode(): unknown;
  readonly isReady: boolean;
  readonly isOpen: boolean;
}

export type RedisClientLike =
  | NodeRedisClientLike
  | NodeRedisClusterLike
  | NodeRedisSentinelLike
  | IoredisClientLike;

// Our deadline replaces node-redis's per-command timer (see deadline.ts). Maps
// (RESP3 HGETALL replies) come back as flat arrays: the cheapest shape to decode
// and to read (RESP_TYPES.MAP is 37, "%").
export const NO_CLIENT_TIMEOUT = { timeout: 0, typeMapping: { 37: Array } };

function waitArgs(replicas: number, timeoutMs: number): string[] {
  return ['WAIT', String(replicas), String(timeoutMs)];
}

/** Both commands are written in the same tick, so they leave on one connection, in order. */
function pair(send: (args: string[]) => Promise<unknown>, args: string[], wait: string[]) {
  return Promise.all([send(args), send(wait)]);
}

/** How to talk to each kind of node-redis client. */
export function commandsOf(
  client: Exclude<RedisClientLike, IoredisClientLike>,
): Pick<RedisCommander, 'send' | 'sendThenWait'> {
  if ('masters' in client) {
    return {
      send: (key, args) => client.sendCommand(key, false, args, NO_CLIENT_TIMEOUT),
      // WAIT has no key, and node-redis would send it to every shard: both commands
      // go to the client of the key's master instead. A slot that moves meanwhile
      // answers MOVED, which fails the write (503) rather than waiting on the wrong node.
      sendThenWait: async (key, args, replicas, timeoutMs) => {
        const node = await client.getNodeClientForKey(key, false);
        return pair((a) => node.sendCommand(a, NO_CLIENT_TIMEOUT), args, waitArgs(replicas, timeoutMs));
      },
    };
  }
  if ('getMasterNode' in client) {
    // With one master connection (masterPoolSize 1, the default, or reserveClient),
    // every command goes to the current master on that connection, in order.
    const send = (args: string[]) => client.sendCommand(false, args, NO_CLIENT_TIMEOUT);
    return {
      send: (_key, args) => send(args),
      sendThenWait: (_key, args, replicas, timeoutMs) => pair(send, args, waitArgs(replicas, timeoutMs)),
    };
  }
  const send = (args: string[]) => client.sendCommand(args, NO_CLIENT_TIMEOUT);
  return {
    send: (_key, args) => send(args),
    sendThenWait: (_key, args, replicas, timeoutMs) => pair(send, args, waitArgs(replicas, timeoutMs)),
  };
}

/** Wrap a client the app created and connected; the app keeps ownership of it. */
export function borrowClient(client: RedisClientLike): RedisCommander {
  // ioredis also has a sendCommand: recognise it first, by `call` and `status`.
  if (isIoredis(client)) return borrowIoredis(client);
  if (!client || typeof (client as { sendCommand?: unknown }).sendCommand !== 'function') {
    throw new UnpinnedError(
      'UNPINNED_ERR_INVALID_OPTION',
      'Invalid option "client": expected a node-redis 6 client, cluster or sentinel (createClient() / createCluster() / createSentinel()) or an ioredis 5 client (new Redis()).',
    );
  }
  return {
    ...commandsOf(client),
    // A client that still has its offline queue would hold our commands while
    // disconnected and run them later: checking readiness first fails fast instead.
    get ready() {
      return client.isReady !== false;
    },
    connected: Promise.resolve(),
    close: async () => {},
  };
}
