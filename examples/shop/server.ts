/**
 * Runs one shop server. Configuration from the environment, as a platform would
 * give it: PORT, HOST (default 127.0.0.1), SERVER_NAME, and the session store:
 * REDIS_URL for Redis; beyond one Redis, REDIS_CLUSTER (node URLs,
 * comma-separated) or REDIS_SENTINEL (`name@host:port,host:port,...`), with
 * REDIS_WAIT_REPLICAS and REDIS_WAIT_TIMEOUT_MS for the durability option
 * (commits wait for replicas); UNPINNED_SESSIONS=sqlite with UNPINNED_SQLITE_PATH
 * for the embedded store (processes on one host share the file); or
 * UNPINNED_SESSIONS=memory for the old way (sessions in this process: the sticky
 * baseline). Modelled capacity for the lab: MAX_CONCURRENT and SERVICE_MS.
 * Flags override the environment: --port, --name, --sessions memory|redis|sqlite,
 * --redis <url>, --sqlite <file>, --max-concurrent <n>, --service-ms <ms>.
 *
 * Test fault injector (off by default; for the lab's oracle tests only):
 * SHOP_FAULT_DROP_EVERY_NTH_ADD=N answers every Nth cart add as done without saving it.
 */
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { createSessions, type SessionStore } from 'unpinned';
import { memoryStore } from 'unpinned/memory';
import { createRealtime, type Realtime } from 'unpinned/realtime';
import { RedisStore, redisStore } from 'unpinned/redis';
import { sqliteStore } from 'unpinned/sqlite';
import { createShop } from './app.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    name: { type: 'string' },
    sessions: { type: 'string' },
    redis: { type: 'string' },
    sqlite: { type: 'string' },
    'max-concurrent': { type: 'string' },
    'service-ms': { type: 'string' },
  },
});
const env = process.env;
const port = Number(values.port ?? env.PORT ?? 3000);
const serverName = values.name ?? env.SERVER_NAME ?? `shop-${process.pid}`;
// Loopback unless told otherwise (HOST=0.0.0.0 in a container).
const host = env.HOST ?? '127.0.0.1';
const redisUrl = values.redis ?? env.REDIS_URL;
const sqlitePath = values.sqlite ?? env.UNPINNED_SQLITE_PATH;
const redisConnection = redisUrl
  ? { url: redisUrl }
  : env.REDIS_CLUSTER
    ? { cluster: { rootNodes: env.REDIS_CLUSTER.split(',') } }
    : env.REDIS_SENTINEL
      ? { sentinel: parseSentinel(env.REDIS_SENTINEL) }
      : null;
const mode = values.sessions ?? env.UNPINNED_SESSIONS ?? (redisConnection ? 'redis' : 'memory');
const waitReplicas = Number(env.REDIS_WAIT_REPLICAS ?? 0);
const durability =
  waitReplicas > 0
    ? { replicas: waitReplicas, timeoutMs: Number(env.REDIS_WAIT_TIMEOUT_MS ?? 250) }
    : undefined;

/** `name@host:port,host:port` → the master's name and the Sentinels' URLs. */
function parseSentinel(value: string): { name: string; sentinels: string[] } {
  const [name, list = ''] = value.split('@');
  return { name: name!, sentinels: list.split(',').map((hostPort) => `redis://${hostPort}`) };
}
const maxConcurrent = Number(values['max-concurrent'] ?? env.MAX_CONCURRENT ?? 0);
const serviceMs = Number(values['service-ms'] ?? env.SERVICE_MS ?? 0);

function chooseStore(): SessionStore {
  if (mode === 'memory') return memoryStore({ quiet: true });
  if (mode === 'redis' && redisConnection)
    return redisStore({ ...redisConnection, ...(durability && { durability }) });
  if (mode === 'sqlite' && sqlitePath) return sqliteStore({ path: sqlitePath });
  console.error(
    `${serverName}: --sessions ${mode} needs a store: set REDIS_URL (--redis <url>), REDIS_CLUSTER or REDIS_SENTINEL, or UNPINNED_SQLITE_PATH (--sqlite <file>), or use --sessions memory.`,
  );
  process.exit(2);
}

const store = chooseStore();
// Take traffic only once the store answers: a health check that passes before
// that would send the first requests into 503s.
if (store instanceof RedisStore) await store.ready();
const sessions = createSessions({ store });
// Live updates need Redis (history and fan-out live there): on with Redis or a Cluster.
const realtime: Realtime | undefined =
  mode === 'redis' && redisConnection && !('sentinel' in redisConnection) && env.SHOP_REALTIME !== 'off'
    ? createRealtime({ redis: redisConnection, sessions })
    : undefined;
const { app, state } = createShop({
  sessions,
  serverName,
  ...(realtime ? { realtime } : {}),
  ...(maxConcurrent > 0 ? { capacity: { maxConcurrent, serviceMs } } : {}),
  dropEveryNthAdd: Number(env.SHOP_FAULT_DROP_EVERY_NTH_ADD ?? 0),
});
const server = app.listen(port, host, () => {
  const { port: bound } = server.address() as AddressInfo;
  console.log(JSON.stringify({ event: 'listening', server: serverName, port: bound, sessions: mode }));
});
// Keep-alive sockets from a balancer must not outlive a shutdown by minutes.
server.keepAliveTimeout = 5_000;

// Graceful shutdown: fail health checks, stop accepting, finish in-flight
// requests, close idle keep-alive sockets, close the store client, exit.
let stopping = false;
function shutdown(): void {
  if (stopping) return;
  stopping = true;
  state.stopping = true;
  server.close(() => {
    void sessions.close().finally(() => process.exit(0));
  });
  server.closeIdleConnections();
  // Live streams would hold server.close() open: each ends with a reconnect hint, spread over
  // a short window, and its browser resumes on another server from its last event id.
  void realtime?.close().finally(() => server.closeAllConnections());
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
