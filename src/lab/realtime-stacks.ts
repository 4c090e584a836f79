/**
 * The two realtime stacks the lab compares, as their clients use them from Node: how a
 * subscriber connects and what it reports to its oracle, and how the lab publishes.
 *
 * - Socket.IO 4.8 + @socket.io/redis-adapter behind the sticky-cookie balancer. Its handshake
 *   starts with HTTP long-polling, whose session lives in one server's memory: every request of
 *   it must reach that server ("sticky-session is required",
 *   https://socket.io/docs/v4/using-multiple-nodes/). A browser keeps the balancer's cookie by
 *   itself; in Node, engine.io-client keeps cookies only with `withCredentials: true` (its cookie
 *   jar, engine.io-client 6.6+), so the lab sets it. Without it the requests after the handshake
 *   are balanced elsewhere and answered 400 "Session ID unknown".
 * - unpinned realtime over SSE, through the balancer with any strategy, read by the `eventsource`
 *   package (the WHATWG algorithm: it reconnects by itself, sending Last-Event-ID).
 *
 * Reconnect delays are the same on both: Socket.IO's first retry after 300 ms ± 50%, the SSE
 * `retry:` hint 150–450 ms (src/lab/realtime-server.ts).
 */
import { loadPackage } from './packages.js';
import type { Architecture } from './scenarios.js';

/** What a subscriber tells the oracle (src/lab/realtime.ts). */
export interface Observer {
  /** Subscribed: every message published from now on is owed to it. */
  ready(): void;
  take(n: number): void;
  /** Its connection ended (it will reconnect by itself). */
  cut(): void;
  /** An explicit reset (unpinned: history did not cover its offset). */
  reset(): void;
  /** A connection attempt that did not open. */
  failedConnect(): void;
}

export interface Publisher {
  publish(room: string, n: number): Promise<void>;
  close(): Promise<void>;
}

export interface Stack {
  /** The app servers' argument (src/lab/realtime-server.ts). */
  id: 'socketio' | 'unpinned';
  label: string;
  transport: string;
  subscribe(base: string, room: string, observer: Observer): { close(): void };
  publisher(redisUrl: string): Promise<Publisher>;
}

const RECONNECT_MS = 300;

async function socketIoStack(): Promise<Stack> {
  const { io } = await loadPackage<typeof import('socket.io-client')>('socket.io-client');
  const { Server } = await loadPackage<typeof import('socket.io')>('socket.io');
  const { createAdapter } =
    await loadPackage<typeof import('@socket.io/redis-adapter')>('@socket.io/redis-adapter');
  return {
    id: 'socketio',
    label: 'Socket.IO 4.8 + redis-adapter',
    transport: 'long-polling handshake, then WebSocket',
    subscribe(base, room, observer) {
      const socket = io(base, {
        query: { room },
        forceNew: true,
        withCredentials: true,
        reconnectionDelay: RECONNECT_MS,
        reconnectionDelayMax: RECONNECT_MS * 2,
      });
      socket.on('ready', () => observer.ready());
      socket.on('disconnect', () => observer.cut());
      socket.on('connect_error', () => observer.failedConnect());
      socket.on('m', (m: { n: number }) => observer.take(m.n));
      return { close: () => socket.close() };
    },
    async publisher(redisUrl) {
      const { createClient } = await import('redis');
      const pub = createClient({ url: redisUrl });
      const sub = pub.duplicate();
      await Promise.all([pub.connect(), sub.connect()]);
      // A Socket.IO server with no clients of its own, as an app emits from a worker: its
      // adapter relays each emit to every server through Redis pub/sub.
      const server = new Server({ adapter: createAdapter(pub, sub) });
      return {
        publish: async (room, n) => void server.to(room).emit('m', { n }),
        // Not server.close(): it closes an engine this server never attached.
        close: async () => {
          server.removeAllListeners();
          await Promise.all([pub.close().catch(() => {}), sub.close().catch(() => {})]);
        },
      };
    },
  };
}

async function unpinnedStack(): Promise<Stack> {
  const { EventSource } = await loadPackage<typeof import('eventsource')>('eventsource');
  const { createRealtime } = await import('../realtime/index.js');
  return {
    id: 'unpinned',
    label: 'unpinned realtime',
    transport: 'SSE',
    subscribe(base, room, observer) {
      const source = new EventSource(`${base}/live?channel=room:${room}`);
      source.addEventListener('ready', () => observer.ready());
      source.addEventListener('reset', () => observer.reset());
      source.addEventListener('error', () => {
        // CLOSED after an error: an answer that ends an EventSource for good (a non-200).
        if (source.readyState === EventSource.CLOSED) observer.failedConnect();
        observer.cut();
      });
      source.addEventListener('message', (e) => observer.take((JSON.parse(e.data) as { n: number }).n));
      return { close: () => source.close() };
    },
    async publisher(redisUrl) {
      const realtime = createRealtime({ redis: { url: redisUrl } });
      return {
        publish: async (room, n) => void (await realtime.publish(`room:${room}`, { n })),
        close: () => realtime.close({ windowMs: 1 }),
      };
    },
  };
}

/** The stack of a column: Socket.IO under sticky routing, unpinned realtime under any strategy. */
export function loadStack(architecture: Architecture): Promise<Stack> {
  return architecture === 'sticky' ? socketIoStack() : unpinnedStack();
}
