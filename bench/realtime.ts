/**
 * `npm run bench:realtime`: delivered messages per second and p99 delivery latency of one Node
 * process serving N subscribers, unpinned realtime (SSE) against Socket.IO 4.8 with
 * @socket.io/redis-adapter (WebSocket), on the same private Redis, in the same run, rounds
 * interleaved so drift of this shared machine hits both alike; the figure is the median round.
 *
 * Method: the subscribers' server and its clients share this process (the clients are the cheap
 * part: a line scan of the stream / socket.io-client); a second instance of each stack publishes
 * BENCH_MESSAGES timestamped messages to one room, 50 in flight at a time (Socket.IO: 50 emits,
 * then a turn of the event loop). Latency = receive time - send time, into an HDR histogram.
 * Last line: {"unpinned":{"deliveredPerSec":n,"p99Ms":n},"socketio":{...},"subscribers":n}.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdapter } from '@socket.io/redis-adapter';
import * as hdr from 'hdr-histogram-js';
import { createClient } from 'redis';
import { Server as SocketIoServer } from 'socket.io';
import { io as connectSocketIo, type Socket } from 'socket.io-client';
import { realtimeHandler } from '../src/adapters/node/realtime.js';
import { createRealtime } from '../src/realtime/index.js';
import { RedisServer } from '../src/system/redis-server.js';

const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 200);
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 2000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const DEADLINE_MS = 60_000;

interface Round {
  deliveredPerSec: number;
  p99Ms: number;
}

async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return (server.address() as AddressInfo).port;
}

/** Waits until `count()` reaches `want` or the deadline passes; resolves with the elapsed ms. */
async function until(count: () => number, want: number, started: number): Promise<number> {
  while (count() < want && performance.now() - started < DEADLINE_MS)
    await new Promise((r) => setTimeout(r, 5));
  return performance.now() - started;
}

async function unpinnedRound(redisUrl: string, room: string): Promise<Round> {
  const serving = createRealtime({ redis: { url: redisUrl }, authorizeRoom: () => true });
  const publisher = createRealtime({ redis: { url: redisUrl } });
  const server = createServer(realtimeHandler(serving));
  const port = await listen(server);
  const histogram = hdr.build();
  let delivered = 0;
  let ready = 0;
  const controllers = Array.from({ length: SUBSCRIBERS }, () => new AbortController());
  await Promise.all(
    controllers.map(async (controller) => {
      const res = await fetch(`http://127.0.0.1:${port}/?channel=${room}`, {
        headers: { accept: 'text/event-stream' },
        signal: controller.signal,
      });
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      void (async () => {
        let rest = '';
        for (;;) {
          const { value, done } = await reader.read().catch(() => ({ value: '', done: true }));
          if (done) return;
          const lines = (rest + value).split('\n');
          rest = lines.pop()!;
          for (const line of lines) {
            if (line.startsWith('event: ready')) ready++;
            else if (line.startsWith('data: {"t"')) {
              delivered++;
              histogram.recordValue(Math.max(0, Date.now() - JSON.parse(line.slice(6)).t));
            }
          }
        }
      })();
    }),
  );
  await until(() => ready, SUBSCRIBERS, performance.now());
  const started = performance.now();
  // Up to 50 publishes in flight on the one connection (Redis runs them in order).
  for (let i = 0; i < MESSAGES; i += 50) {
    const batch = Array.from({ length: Math.min(50, MESSAGES - i) }, () =>
      publisher.publish(room, { t: Date.now() }),
    );
    await Promise.all(batch);
  }
  const ms = await until(() => delivered, MESSAGES * SUBSCRIBERS, started);
  for (const c of controllers) c.abort();
  server.closeAllConnections();
  server.close();
  await Promise.all([serving.close({ windowMs: 1 }), publisher.close({ windowMs: 1 })]);
  return { deliveredPerSec: Math.round((delivered / ms) * 1000), p99Ms: histogram.getValueAtPercentile(99) };
}

async function socketIoRound(redisUrl: string, room: string): Promise<Round> {
  const clients = Array.from({ length: 4 }, () => createClient({ url: redisUrl }));
  await Promise.all(clients.map((c) => c.connect()));
  const serving = new SocketIoServer({ adapter: createAdapter(clients[0]!, clients[1]!) });
  const publisher = new SocketIoServer({ adapter: createAdapter(clients[2]!, clients[3]!) });
  serving.on('connection', (socket) =>
    socket.on('join', (name: string, ack: () => void) => {
      void socket.join(name);
      ack();
    }),
  );
  const server = createServer();
  serving.attach(server);
  const port = await listen(server);
  const histogram = hdr.build();
  let delivered = 0;
  const sockets: Socket[] = await Promise.all(
    Array.from({ length: SUBSCRIBERS }, async () => {
      const socket = connectSocketIo(`http://127.0.0.1:${port}`, { transports: ['websocket'] });
      socket.on('m', (m: { t: number }) => {
        delivered++;
        histogram.recordValue(Math.max(0, Date.now() - m.t));
      });
      await new Promise<void>((resolve) => socket.emit('join', room, resolve));
      return socket;
    }),
  );
  const started = performance.now();
  for (let i = 0; i < MESSAGES; i++) {
    publisher.to(room).emit('m', { t: Date.now() });
    // Let the adapter's PUBLISH go out, as a real server between requests would.
    if (i % 50 === 49) await new Promise((r) => setImmediate(r));
  }
  const ms = await until(() => delivered, MESSAGES * SUBSCRIBERS, started);
  for (const s of sockets) s.close();
  await new Promise((r) => serving.close(() => r(undefined)));
  // The publishing instance has no HTTP server to close: its adapter goes with its Redis clients.
  publisher.removeAllListeners();
  await Promise.all(clients.map((c) => c.close().catch(() => {})));
  return { deliveredPerSec: Math.round((delivered / ms) * 1000), p99Ms: histogram.getValueAtPercentile(99) };
}

function median(rounds: Round[]): Round {
  const pick = (key: keyof Round) =>
    rounds.map((r) => r[key]).sort((a, b) => a - b)[Math.floor(rounds.length / 2)]!;
  return { deliveredPerSec: pick('deliveredPerSec'), p99Ms: pick('p99Ms') };
}

const redis = await RedisServer.start();
try {
  const results = { unpinned: [] as Round[], socketio: [] as Round[] };
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? (['unpinned', 'socketio'] as const) : (['socketio', 'unpinned'] as const);
    for (const variant of order) {
      const room = `room:bench-${round}-${variant}`;
      const result =
        variant === 'unpinned' ? await unpinnedRound(redis.url, room) : await socketIoRound(redis.url, room);
      results[variant].push(result);
      console.log(
        `round ${round + 1} ${variant}: ${result.deliveredPerSec} delivered/s, p99 ${result.p99Ms} ms`,
      );
    }
  }
  console.log(
    JSON.stringify({
      unpinned: median(results.unpinned),
      socketio: median(results.socketio),
      subscribers: SUBSCRIBERS,
    }),
  );
} finally {
  await redis.stop();
}
