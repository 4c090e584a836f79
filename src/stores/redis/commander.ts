/**
 * The few things the Redis store needs from a client: send a raw command, and
 * tell whether a command sent now would go out at once. Keeping the store on
 * this narrow interface lets it run on whatever client the app already has.
 */
import { UnpinnedError } from '../../session/errors.js';
import { borrowIoredis, type IoredisClientLike, isIoredis } from './ioredis.js';

export interface RedisCommander {
  /** Send one command; `key` routes it on a cluster. */
  send(key: string, args: string[]): Promise<unknown>;
  /** False while disconnected: the store then fails fast instead of queueing. */
  readonly ready: boolean;
  /** Resolves once the first connection is up. */
  readonly connected: Promise<void>;
  close(): Promise<void>;
}

/** The parts of a node-redis 6 client (standalone) the store uses. */
export interface NodeRedisClientLike {
  sendCommand(args: string[], options?: { timeout?: number; typeMapping?: object }): Promise<unknown>;
  readonly isReady: boolean;
  readonly isOpen: boolean;
}

/** The parts of a node-redis 6 cluster client the store uses. */
export interface NodeRedisClusterLike {
  sendCommand(
    firstKey: string | undefined,
    isReadonly: boolean | undefined,
    args: string[],
    options?: { timeout?: number; typeMapping?: object },
  ): Promise<unknown>;
  readonly isReady?: boolean;
  readonly isOpen: boolean;
  readonly masters: unknown;
}

export type RedisClientLike = NodeRedisClientLike | NodeRedisClusterLike | IoredisClientLike;

// Our deadline replaces node-redis's per-command timer (see deadline.ts). Maps
// (RESP3 HGETALL replies) come back as flat arrays: the cheapest shape to decode
// and to read (RESP_TYPES.MAP is 37, "%").
const NO_CLIENT_TIMEOUT = { timeout: 0, typeMapping: { 37: Array } };

function isCluster(client: NodeRedisClientLike | NodeRedisClusterLike): client is NodeRedisClusterLike {
  return 'masters' in client;
}

/** Wrap a client the app created and connected; the app keeps ownership of it. */
export function borrowClient(client: RedisClientLike): RedisCommander {
  // ioredis has a `sendCommand` too (taking a Command object): recognise it first.
  if (isIoredis(client)) return borrowIoredis(client);
  if (!client || typeof (client as { sendCommand?: unknown }).sendCommand !== 'function') {
    throw new UnpinnedError(
      'UNPINNED_ERR_INVALID_OPTION',
      'Invalid option "client": expected a node-redis 6 client or cluster (createClient() / createCluster()) or an ioredis 5 client (new Redis()).',
    );
  }
  const send = isCluster(client)
    ? (key: string, args: string[]) => client.sendCommand(key, false, args, NO_CLIENT_TIMEOUT)
    : (_key: string, args: string[]) => client.sendCommand(args, NO_CLIENT_TIMEOUT);
  return {
    send,
    // A client that still has its offline queue would hold our commands while
    // disconnected and run them later: checking readiness first fails fast instead.
    get ready() {
      return client.isReady !== false;
    },
    connected: Promise.resolve(),
    close: async () => {},
  };
}

/** Create and own a node-redis client for `url`, configured the way the store needs. */
export function ownClient(url: string, onError: (error: Error) => void): RedisCommander {
  type Owned = NodeRedisClientLike & { connect(): Promise<unknown>; close(): Promise<void> };
  let created: Owned | null = null;
  /** Set once the first connection is up; until then commands wait for it (within their deadline). */
  let client: Owned | null = null;
  const connected = (async () => {
    const redis = await importRedis();
    created = redis.createClient({
      url,
      // Never queue commands while disconnected: a request gets a 503 now rather
      // than a write that lands minutes later, after its answer was sent.
      disableOfflineQueue: true,
      commandOptions: { timeout: 0 },
    }) as unknown as Owned;
    // Without a listener, a connection error would crash the process.
    (created as unknown as { on(event: 'error', fn: (error: Error) => void): void }).on('error', onError);
    await created.connect();
    client = created;
  })();
  connected.catch(() => {});
  return {
    send: (_key, args) => {
      if (!client) return connected.then(() => client!.sendCommand(args, NO_CLIENT_TIMEOUT));
      return client.sendCommand(args, NO_CLIENT_TIMEOUT);
    },
    // While the first connection is being made, commands wait for it rather than
    // fail: a server that just started is not in an outage.
    get ready() {
      return client === null || client.isReady;
    },
    connected,
    close: async () => {
      await connected.catch(() => {});
      if (created?.isOpen) await created.close();
    },
  };
}

async function importRedis(): Promise<typeof import('redis')> {
  try {
    return await import('redis');
  } catch (cause) {
    throw new UnpinnedError(
      'UNPINNED_ERR_MISSING_DEPENDENCY',
      'The Redis store needs the "redis" package (node-redis 6): run `npm install redis`, or pass a client you created.',
      { cause },
    );
  }
}
