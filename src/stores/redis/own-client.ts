/**
 * A node-redis client the store creates and owns, for a URL, a Redis Cluster or
 * a Sentinel-managed master, configured the way the store needs: no offline
 * queue (a request gets a 503 now rather than a write that lands after its
 * answer was sent) and no per-command timer (the store enforces deadlines).
 */
import { UnpinnedError } from '../../session/errors.js';
import { commandsOf, type RedisClientLike, type RedisCommander } from './commander.js';
import type { IoredisClientLike } from './ioredis.js';

/** Where the store's own client connects. */
export type RedisConnection =
  | { url: string }
  /** Any nodes of a Redis Cluster, as URLs; the client discovers the rest. */
  | { cluster: { rootNodes: string[] } }
  /** The master named `name`, as the Sentinels at these URLs report it. */
  | { sentinel: { name: string; sentinels: string[] } };

type OwnedClient = Exclude<RedisClientLike, IoredisClientLike> & {
  connect(): Promise<unknown>;
  close(): Promise<void>;
  on(event: 'error', listener: (error: Error) => void): unknown;
};

export function ownClient(connection: RedisConnection, onError: (error: Error) => void): RedisCommander {
  let client: OwnedClient | null = null;
  let closable: OwnedClient | null = null;
  let commands: Pick<RedisCommander, 'send' | 'sendThenWait'> | null = null;
  const connected = (async () => {
    const created = create(await importRedis(), connection);
    // Without a listener, a connection error would crash the process.
    created.on('error', onError);
    closable = created;
    await created.connect();
    // Until the first connection is up, commands wait for it (within their
    // deadline) rather than fail: a server that just started is not in an outage.
    client = created;
    commands = commandsOf(created);
  })();
  connected.catch(() => {});
  return {
    send: (key, args) => {
      if (!commands) return connected.then(() => commands!.send(key, args));
      return commands.send(key, args);
    },
    sendThenWait: (key, args, replicas, timeoutMs) => {
      if (!commands) return connected.then(() => commands!.sendThenWait(key, args, replicas, timeoutMs));
      return commands.sendThenWait(key, args, replicas, timeoutMs);
    },
    get ready() {
      return client === null || client.isReady !== false;
    },
    connected,
    close: async () => {
      await connected.catch(() => {});
      if (closable?.isOpen) await closable.close();
    },
  };
}

function create(redis: typeof import('redis'), connection: RedisConnection): OwnedClient {
  const nodeOptions = { disableOfflineQueue: true, commandOptions: { timeout: 0 } };
  if ('cluster' in connection) {
    return redis.createCluster({
      rootNodes: connection.cluster.rootNodes.map((url) => ({ url })),
      defaults: nodeOptions,
      commandOptions: { timeout: 0 },
    }) as unknown as OwnedClient;
  }
  if ('sentinel' in connection) {
    return redis.createSentinel({
      name: connection.sentinel.name,
      sentinelRootNodes: connection.sentinel.sentinels.map(hostPort),
      nodeClientOptions: nodeOptions,
      commandOptions: { timeout: 0 },
      // One master connection held for the store: a write and its WAIT share it.
      reserveClient: true,
    }) as unknown as OwnedClient;
  }
  return redis.createClient({ url: connection.url, ...nodeOptions }) as unknown as OwnedClient;
}

function hostPort(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: Number(parsed.port || 26379) };
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
