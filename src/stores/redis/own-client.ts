/**
 * A node-redis client the store creates and owns, for a URL, a Redis Cluster or
 * a Sentinel-managed master, configured the way the store needs: no offline
 * queue (a request gets a 503 now rather than a write that lands after its
 * answer was sent) and no per-command timer (the store enforces deadlines).
 * Being the owner, the store can also replace the client when its connection
 * goes half-open, which no client detects by itself under load.
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
  destroy(): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
};

/** How long to wait before trying again when a replacement connection could not be opened. */
const RETRY_REPLACE_MS = 1000;

export function ownClient(connection: RedisConnection, onError: (error: Error) => void): RedisCommander {
  let redis: typeof import('redis') | null = null;
  /** The client commands go to, once its first connection is up. */
  let client: OwnedClient | null = null;
  /** The newest client created, which close() must end (it may still be connecting). */
  let closable: OwnedClient | null = null;
  let commands: Pick<RedisCommander, 'send' | 'sendThenWait'> | null = null;
  let replacing = false;
  let closed = false;
  const open = async (): Promise<OwnedClient> => {
    const created = create(redis!, connection);
    // Without a listener, a connection error would crash the process.
    created.on('error', onError);
    closable = created;
    await created.connect();
    return created;
  };
  const use = (created: OwnedClient) => {
    client = created;
    commands = commandsOf(created);
  };
  const connected = (async () => {
    redis = await importRedis();
    // Until the first connection is up, commands wait for it (within their
    // deadline) rather than fail: a server that just started is not in an outage.
    use(await open());
  })();
  connected.catch(() => {});
  const reopen = () => {
    open().then(
      (fresh) => {
        replacing = false;
        if (closed) void destroy(fresh);
        else use(fresh);
      },
      (error: Error) => {
        if (closed) return;
        onError(error);
        setTimeout(reopen, RETRY_REPLACE_MS).unref();
      },
    );
  };
  return {
    send: (key, args) => {
      if (!commands) return connected.then(() => commands!.send(key, args));
      return commands.send(key, args);
    },
    sendThenWait: (key, args, replicas, timeoutMs) => {
      if (!commands) return connected.then(() => commands!.sendThenWait(key, args, replicas, timeoutMs));
      return commands.sendThenWait(key, args, replicas, timeoutMs);
    },
    // A connection that stopped answering without closing (half-open: a NAT or
    // firewall that lost its state, packets dropped) is never noticed by the
    // client: it keeps writing into it. Destroying it rejects whatever still
    // waits on it; until the new one is up, `ready` is false and requests get a
    // 503 at once instead of a deadline each.
    replace: () => {
      if (replacing || closed || !client) return;
      replacing = true;
      void destroy(client);
      reopen();
    },
    get ready() {
      return client === null || (!replacing && client.isReady !== false);
    },
    connected,
    close: async () => {
      closed = true;
      await connected.catch(() => {});
      const last = closable;
      if (!last?.isOpen) return;
      // One still connecting has nothing to drain: close() would wait on it.
      if (replacing) await destroy(last);
      else await last.close();
    },
  };
}

async function destroy(client: OwnedClient): Promise<void> {
  try {
    await client.destroy();
  } catch {
    // Already closed: nothing to do.
  }
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

/** node-redis, loaded only when used (an optional peer); `who` names the part that needs it. */
export async function importRedis(
  who = 'The Redis store needs',
  alternative = ', or pass a client you created',
): Promise<typeof import('redis')> {
  try {
    return await import('redis');
  } catch (cause) {
    throw new UnpinnedError(
      'UNPINNED_ERR_MISSING_DEPENDENCY',
      `${who} the "redis" package (node-redis 6): run \`npm install redis\`${alternative}.`,
      { cause },
    );
  }
}
