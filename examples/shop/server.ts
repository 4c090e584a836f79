/**
 * Runs one shop server. Configuration from the environment, as a platform would
 * give it: PORT, SERVER_NAME, and the session store: REDIS_URL for Redis, or
 * UNPINNED_SESSIONS=memory for the old way (sessions in this process: the sticky
 * baseline). Modelled capacity for the lab: MAX_CONCURRENT and SERVICE_MS.
 * Flags override the environment: --port, --name, --sessions memory|redis,
 * --redis <url>, --max-concurrent <n>, --service-ms <ms>.
 *
 * Test fault injector (off by default; for the lab's oracle tests only):
 * SHOP_FAULT_DROP_EVERY_NTH_ADD=N answers every Nth cart add as done without saving it.
 */
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { createSessions, type SessionStore } from 'unpinned';
import { memoryStore } from 'unpinned/memory';
import { redisStore } from 'unpinned/redis';
import { createShop } from './app.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    name: { type: 'string' },
    sessions: { type: 'string' },
    redis: { type: 'string' },
    'max-concurrent': { type: 'string' },
    'service-ms': { type: 'string' },
  },
});
const env = process.env;
const port = Number(values.port ?? env.PORT ?? 3000);
const serverName = values.name ?? env.SERVER_NAME ?? `shop-${process.pid}`;
const redisUrl = values.redis ?? env.REDIS_URL;
const mode = values.sessions ?? env.UNPINNED_SESSIONS ?? (redisUrl ? 'redis' : 'memory');
const maxConcurrent = Number(values['max-concurrent'] ?? env.MAX_CONCURRENT ?? 0);
const serviceMs = Number(values['service-ms'] ?? env.SERVICE_MS ?? 0);

function chooseStore(): SessionStore {
  if (mode === 'memory') return memoryStore({ quiet: true });
  if (mode === 'redis' && redisUrl) return redisStore({ url: redisUrl });
  console.error(
    `${serverName}: --sessions ${mode} needs a store: set REDIS_URL (or --redis <url>), or use --sessions memory.`,
  );
  process.exit(2);
}

const sessions = createSessions({ store: chooseStore() });
const { app, state } = createShop({
  sessions,
  serverName,
  ...(maxConcurrent > 0 ? { capacity: { maxConcurrent, serviceMs } } : {}),
  dropEveryNthAdd: Number(env.SHOP_FAULT_DROP_EVERY_NTH_ADD ?? 0),
});
const server = app.listen(port, '127.0.0.1', () => {
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
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
