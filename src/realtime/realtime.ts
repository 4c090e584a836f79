/**
 * `createRealtime()`: publish to channels from any server, subscribe on any
 * server, with history and fan-out in Redis. Transports (SSE, long-poll,
 * WebSocket) and framework adapters sit on top of `subscribe()`.
 */
import { randomBytes } from 'node:crypto';
import { invalidOption } from '../session/errors.js';
import type { SessionManager } from '../session/manager.js';
import type { Session } from '../session/session.js';
import { type ChannelKeys, keysOf, parseChannel } from './channel.js';
import { forbidden, realtimeClosed } from './errors.js';
import { Fanout } from './fanout.js';
import { type RealtimeRedis, RedisLink } from './redis.js';
import { positionScript, presenceScript, publishScript } from './scripts.js';
import { type HistoryReply, type Position, type RealtimeEvent, Subscription } from './subscription.js';

export interface RealtimeOptions {
  /** Redis (7.0 or later: sharded pub/sub): `{ url }` or `{ cluster: { rootNodes } }`. */
  redis: RealtimeRedis;
  /** Sessions decide who may subscribe (user and session channels, and rooms through `authorizeRoom`). */
  sessions?: SessionManager;
  /** Whether this session may join `room:<name>`. Default: nobody may. */
  authorizeRoom?: (
    name: string,
    who: { session: Session | null; userId: string | null },
  ) => boolean | Promise<boolean>;
  /** Key prefix (default `unpinned:rt:`). */
  prefix?: string;
  history?: {
    /** Entries kept per channel, at least (MAXLEN ~). Default 1000. */
    maxLength?: number;
    /** Entries older than this are trimmed at the next publish. Default 10 minutes. */
    maxAgeMs?: number;
    /** A channel nobody publishes to for this long is forgotten (its epoch too). Default 24 hours. */
    idleTtlMs?: number;
  };
  /** Deadline of every Redis command. Default 2000 ms. */
  commandTimeoutMs?: number;
  /** SSE comment keep-alive interval (below every proxy's idle timeout). Default 15 s. */
  keepAliveMs?: number;
  /** Base of the reconnect delay hinted to clients (SSE `retry:`); each client gets a jittered share. Default 1000 ms. */
  retryMs?: number;
  /** On close(), connections are ended spread over this window, so they do not all reconnect at once. Default 2000 ms. */
  shutdownWindowMs?: number;
  /** A presence entry not renewed for this long is gone. Default 30 s. */
  presenceTtlMs?: number;
  /** Largest published value, as JSON. Default 64 KiB. */
  maxMessageBytes?: number;
}

/** A long-lived connection a transport holds; ended gracefully on close(). */
export interface LiveConnection {
  readonly channel: string;
  readonly transport: 'sse' | 'websocket' | 'long-poll';
  /** The subscriber's user id: marks them present in a room channel while connected. */
  readonly member?: string | null;
  /** End with a reconnect hint (SSE `retry:` then end of stream, WebSocket 1012). */
  shutdown(): void;
}

interface Resolved {
  prefix: string;
  maxLength: number;
  maxAgeMs: number;
  idleTtlMs: number;
  keepAliveMs: number;
  retryMs: number;
  shutdownWindowMs: number;
  presenceTtlMs: number;
  maxMessageBytes: number;
}

/**
 * @example
 * const realtime = createRealtime({ redis: { url: process.env.REDIS_URL! }, sessions });
 * await realtime.publish(`user:${userId}`, { cart });
 */
export class Realtime {
  readonly settings: Resolved;
  readonly #options: RealtimeOptions;
  readonly #link: RedisLink;
  readonly #fanout: Fanout;
  readonly #connections = new Set<LiveConnection>();
  readonly #present = new Map<LiveConnection, string>();
  #presenceTimer: NodeJS.Timeout | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: RealtimeOptions) {
    this.#options = options;
    const h = options.history ?? {};
    this.settings = {
      prefix: options.prefix ?? 'unpinned:rt:',
      maxLength: positive('history.maxLength', h.maxLength ?? 1000),
      maxAgeMs: positive('history.maxAgeMs', h.maxAgeMs ?? 600_000),
      idleTtlMs: positive('history.idleTtlMs', h.idleTtlMs ?? 86_400_000),
      keepAliveMs: positive('keepAliveMs', options.keepAliveMs ?? 15_000),
      retryMs: positive('retryMs', options.retryMs ?? 1000),
      shutdownWindowMs: positive('shutdownWindowMs', options.shutdownWindowMs ?? 2000),
      presenceTtlMs: positive('presenceTtlMs', options.presenceTtlMs ?? 30_000),
      maxMessageBytes: positive('maxMessageBytes', options.maxMessageBytes ?? 65_536),
    };
    this.#link = new RedisLink(
      options.redis,
      positive('commandTimeoutMs', options.commandTimeoutMs ?? 2000),
      () => {
        // Command errors surface on the command that met them (typed); nothing to do here.
      },
    );
    this.#fanout = new Fanout(this.#link);
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * Append `data` (any JSON value) to the channel and fan it out to every
   * server. Resolves with its offset once Redis has it; rejects with
   * `UNPINNED_ERR_REALTIME_UNAVAILABLE` when Redis did not confirm it (then it
   * was not acknowledged: publish again).
   * @example
   * const { offset } = await realtime.publish('room:lobby', { text: 'hello' });
   */
  async publish(channel: string, data: unknown): Promise<{ epoch: string; offset: number }> {
    parseChannel(channel);
    const json = JSON.stringify(data);
    if (json === undefined) throw invalidOption('data', 'a JSON value', data);
    if (Buffer.byteLength(json) > this.settings.maxMessageBytes) {
      throw invalidOption(
        'data',
        `at most ${this.settings.maxMessageBytes} bytes of JSON`,
        `${json.length} bytes`,
      );
    }
    const k = this.keys(channel);
    const s = this.settings;
    const reply = (await this.#link.eval(
      'publish',
      publishScript,
      [k.meta, k.log],
      [newEpoch(), String(s.idleTtlMs), json, String(s.maxLength), String(s.maxAgeMs), k.live],
    )) as [string, number];
    return { epoch: String(reply[0]), offset: Number(reply[1]) };
  }

  /**
   * Subscribe server-side, from a position (`{}`: from now). `onEvent` gets
   * `ready` or `reset`, then messages in offset order, each once; `error` ends it.
   * @example
   * const sub = await realtime.subscribe('room:lobby', { epoch, offset }, (e) => console.log(e));
   * sub.close();
   */
  async subscribe(
    channel: string,
    from: Position,
    onEvent: (event: RealtimeEvent) => void,
  ): Promise<Subscription> {
    if (this.#closing) throw realtimeClosed();
    parseChannel(channel);
    const k = this.keys(channel);
    const fanout = this.#fanout;
    const subscription = new Subscription(
      {
        read: (after) => this.#read(k, after),
        join: (listener) => fanout.join(k.live, listener),
        leave: (listener) => fanout.leave(k.live, listener),
      },
      onEvent,
    );
    await subscription.start(from);
    return subscription;
  }

  /**
   * Throws `UNPINNED_ERR_REALTIME_FORBIDDEN` unless this session may subscribe:
   * `user:<id>` only for a session bound to that user, `session:<id>` only for
   * that session, `room:<name>` when `authorizeRoom` says so.
   */
  async authorize(channel: string, session: Session | null): Promise<void> {
    const { kind, id } = parseChannel(channel);
    if (kind === 'session') {
      if (session?.id != null && session.id === id && (await session.exists())) return;
      throw forbidden(channel);
    }
    const userId = session ? await session.userId() : null;
    if (kind === 'user') {
      if (userId !== null && userId === id) return;
      throw forbidden(channel);
    }
    const allow = this.#options.authorizeRoom;
    if (allow && (await allow(id, { session, userId }))) return;
    throw forbidden(channel);
  }

  get sessions(): SessionManager | undefined {
    return this.#options.sessions;
  }

  /**
   * Mark `member` present in the room until `presenceTtlMs` from now (call it
   * again to stay), or absent with `{ leave: true }`. Returns who is present.
   * A crashed server's members are gone within one TTL: entries are scored by
   * expiry and pruned on every call, no keyspace notification involved.
   */
  async presence(room: string, member?: string, options: { leave?: boolean } = {}): Promise<string[]> {
    const channel = room.startsWith('room:') ? room : `room:${room}`;
    parseChannel(channel);
    const now = Date.now();
    const expiry = options.leave ? 0 : now + this.settings.presenceTtlMs;
    const reply = (await this.#link.eval(
      'presence',
      presenceScript,
      [this.keys(channel).presence],
      [String(now), member ?? '', member === undefined ? '1' : String(expiry)],
    )) as string[];
    return [...new Set(reply.map((m) => m.split('\u0001')[0]!))];
  }

  /** Live connections on this server: in total and per channel (for dashboards). */
  subscribers(): { connections: number; channels: number } {
    return { connections: this.#connections.size, channels: this.#fanout.counts().size };
  }

  keys(channel: string): ChannelKeys {
    return keysOf(this.settings.prefix, channel);
  }

  /**
   * For transports: a connection to end gracefully on close(). A room
   * subscriber with a user id is present in the room while connected: one
   * entry per connection (so a second tab leaving does not hide the first),
   * renewed every third of the TTL, removed when it ends.
   */
  track(connection: LiveConnection): () => void {
    this.#connections.add(connection);
    const present =
      connection.member && connection.channel.startsWith('room:')
        ? `${connection.member}\u0001${randomBytes(6).toString('base64url')}`
        : null;
    if (present) {
      this.#present.set(connection, present);
      this.#renewPresence(connection.channel, present);
      this.#presenceTimer ??= setInterval(() => {
        for (const [c, m] of this.#present) this.#renewPresence(c.channel, m);
      }, this.settings.presenceTtlMs / 3).unref();
    }
    return () => {
      this.#connections.delete(connection);
      if (!present) return;
      this.#present.delete(connection);
      this.presence(connection.channel, present, { leave: true }).catch(() => {});
      if (this.#present.size === 0 && this.#presenceTimer) {
        clearInterval(this.#presenceTimer);
        this.#presenceTimer = undefined;
      }
    };
  }

  #renewPresence(room: string, member: string): void {
    // A missed renewal while Redis is away only shortens the entry's life: it is renewed at the next tick.
    this.presence(room, member).catch(() => {});
  }

  /** A reconnect delay hint, jittered so that clients cut together do not return together. */
  retryHint(): number {
    const base = this.settings.retryMs;
    return Math.round(base / 2 + Math.random() * base);
  }

  /**
   * Graceful stop (call it on SIGTERM, before `server.close()`): every
   * connection is ended with a reconnect hint, spread over `shutdownWindowMs`,
   * then the Redis connections close. Resolves when all are ended.
   */
  close(options: { windowMs?: number } = {}): Promise<void> {
    this.#closing ??= this.#close(options.windowMs ?? this.settings.shutdownWindowMs);
    return this.#closing;
  }

  async #close(windowMs: number): Promise<void> {
    const ends = [...this.#connections].map(
      (connection) =>
        new Promise<void>((resolve) => {
          setTimeout(() => {
            connection.shutdown();
            resolve();
          }, Math.random() * windowMs);
        }),
    );
    await Promise.all(ends);
    this.#connections.clear();
    clearInterval(this.#presenceTimer);
    await this.#fanout.close();
    await this.#link.close();
  }

  async #read(k: ChannelKeys, after: number): Promise<HistoryReply> {
    const reply = (await this.#link.eval(
      'history',
      positionScript,
      [k.meta, k.log],
      [newEpoch(), String(this.settings.idleTtlMs), String(after), '1000'],
    )) as [string, number, number, [string, string[]][]];
    return {
      epoch: String(reply[0]),
      last: Number(reply[1]),
      first: Number(reply[2]),
      entries: reply[3].map(([id, fields]) => ({ offset: Number.parseInt(id, 10), data: fields[1]! })),
    };
  }
}

function newEpoch(): string {
  return randomBytes(6).toString('base64url');
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw invalidOption(name, 'a positive number', value);
  return value;
}

/**
 * @example
 * import { createRealtime } from 'unpinned/realtime';
 * const realtime = createRealtime({ redis: { url: 'redis://127.0.0.1:6379' }, sessions });
 */
export function createRealtime(options: RealtimeOptions): Realtime {
  return new Realtime(options);
}
