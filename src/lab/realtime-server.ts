/**
 * An app server of the lab's realtime scenario, run as a child process by the supervisor (it
 * gets PORT and REDIS_URL in its environment, as any app of `unpinned up` does). Its argument
 * picks what it serves:
 *
 * - `socketio`: Socket.IO 4.8 with @socket.io/redis-adapter, the setup Socket.IO documents for
 *   several servers (https://socket.io/docs/v4/redis-adapter/); a client joins the room named in
 *   its handshake query, and is told `ready` once it is in.
 * - `unpinned`: unpinned/realtime over SSE at /live, rooms open to anyone.
 *
 * Socket.IO and its adapter are imported only on this path, so the rest of the lab never needs
 * them. Both answer /healthz, and both stop gracefully on SIGTERM (the lab's SIGKILL is the fault).
 */
import { createServer } from 'node:http';

const redisUrl = process.env.REDIS_URL ?? '';
const stack = process.argv[2];
const server = createServer();
/** Whatever hangs in a graceful stop, the process is gone within this. */
const STOP_MS = 3_000;

// The reconnect delay hinted to subscribers: the base of the SSE `retry:` hint, which the
// realtime library jitters to 150–450 ms, the same spread as the Socket.IO client's first
// reconnect with the lab's options (src/lab/realtime-stacks.ts).
const RETRY_MS = 300;

function stopOn(close: () => Promise<unknown>): void {
  process.once('SIGTERM', () => {
    setTimeout(() => process.exit(0), STOP_MS).unref();
    void close().finally(() => process.exit(0));
  });
}

if (stack === 'socketio') {
  const { Server } = await import('socket.io');
  const { createAdapter } = await import('@socket.io/redis-adapter');
  const { createClient } = await import('redis');
  const pub = createClient({ url: redisUrl });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  // Registered before Socket.IO attaches: engine.io keeps it for every path that is not its own.
  server.on('request', (req, res) => {
    if (req.url === '/healthz') res.end('ok');
    else res.writeHead(404).end();
  });
  const io = new Server(server, { adapter: createAdapter(pub, sub) });
  io.on('connection', (socket) => {
    void socket.join(String(socket.handshake.query.room));
    socket.emit('ready');
  });
  stopOn(() => io.close());
} else if (stack === 'unpinned') {
  const { createRealtime } = await import('../realtime/index.js');
  const { realtimeHandler } = await import('../adapters/node/realtime.js');
  const realtime = createRealtime({ redis: { url: redisUrl }, authorizeRoom: () => true, retryMs: RETRY_MS });
  const live = realtimeHandler(realtime);
  server.on('request', (req, res) => {
    if (req.url === '/healthz') res.end('ok');
    else if (req.url?.startsWith('/live')) live(req, res);
    else res.writeHead(404).end();
  });
  stopOn(async () => {
    // Streams first (each ends with a reconnect hint), then the listener.
    server.close();
    await realtime.close({ windowMs: 200 });
    server.closeAllConnections();
  });
} else {
  console.error(`realtime-server: the argument must be socketio or unpinned, got ${stack}`);
  process.exit(2);
}
server.listen(Number(process.env.PORT), '127.0.0.1');
