/**
 * Sessions in Redis, shared by every app server.
 *
 * Reads are one HGETALL (the cheapest read Redis has; a Lua read cost about 3x
 * the server CPU). Writes are one single-key Lua script that checks the session
 * still exists, checks compare-and-set conditions, writes only the changed
 * fields and sets the TTL. Every command has a deadline enforced here, and a
 * disconnected client fails fast: "could not ask" is an error, never "not found".
 */
import { invalidOption, storeUnavailable } from '../../session/errors.js';
import type {
  IncrementResult,
  SessionStore,
  SessionSummary,
  SessionWrite,
  StoredSession,
  WriteResult,
} from '../../session/store.js';
import { borrowClient, type RedisClientLike, type RedisCommander } from './commander.js';
import { DeadlineQueue, timeoutError } from './deadline.js';
import { checkDurability, notReplicated } from './durability.js';
import { isIoredis, refuseResends } from './ioredis.js';
import { ownClient, type RedisConnection } from './own-client.js';
import { DESTROY, DESTROY_FOR_USER, INCREMENT, INDEX_ADD, type Script, TOUCH, WRITE } from './scripts.js';

export interface RedisStoreOptions {
  /** Connection URL; the store creates, configures and owns the client. */
  url?: string;
  /** Redis Cluster: a few node URLs; the store creates and owns a cluster client. */
  cluster?: { rootNodes: string[] };
  /** Redis with Sentinel: the master's name and Sentinel URLs; the store follows failovers. */
  sentinel?: { name: string; sentinels: string[] };
  /** A node-redis 6 client, cluster or sentinel, or an ioredis 5 client, the app already has and connected; the app keeps ownership. */
  client?: RedisClientLike;
  /**
   * Make every write wait until `replicas` replicas have it (Redis WAIT), for at
   * most `timeoutMs` (less than `commandTimeout`). A write that fewer replicas
   * acknowledged fails with UNPINNED_ERR_NOT_REPLICATED (503): it reached the
   * master but may be lost if the master fails now. Default: off (asynchronous
   * replication; a failover can lose the last writes).
   */
  durability?: { replicas: number; timeoutMs: number };
  /** Prefix of every key the store writes. Default `unpinned:`. */
  prefix?: string;
  /** Milliseconds a command may take before the request fails with 503. Default 500. */
  commandTimeout?: number;
  /**
   * Connection errors of a store-owned client, and a connection of any client
   * found stalled: no reply for a whole `commandTimeout` while commands waited
   * (half-open). Default: a warning per outage.
   */
  onError?: (error: Error) => void;
}

export class RedisStore implements SessionStore {
  readonly name = 'redis';
  readonly shared = true;
  readonly #redis: RedisCommander;
  /** True once the first connection is up (always, for a borrowed client). */
  #connected = false;
  readonly #deadlines: DeadlineQueue;
  readonly #sessionPrefix: string;
  readonly #userPrefix: string;
  readonly #durability: { replicas: number; timeoutMs: number } | null;
  readonly #onError: (error: Error) => void;
  /** Replies (and error replies) received so far: the pulse that tells a slow connection from a dead one. */
  #answered = 0;
  #stallCheck = false;

  constructor(options: RedisStoreOptions) {
    const sources = CONNECTIONS.filter((name) => options?.[name] !== undefined);
    if (sources.length !== 1) {
      throw invalidOption(CONNECTIONS.join(' / '), 'exactly one of them', sources.join(', ') || undefined);
    }
    const timeout = options.commandTimeout ?? 500;
    if (!(timeout > 0 && Number.isFinite(timeout)))
      throw invalidOption('commandTimeout', 'milliseconds > 0', timeout);
    this.#durability = checkDurability(options.durability, timeout);
    const prefix = options.prefix ?? 'unpinned:';
    this.#sessionPrefix = `${prefix}s:`;
    this.#userPrefix = `${prefix}u:`;
    this.#deadlines = new DeadlineQueue(timeout);
    this.#onError = options.onError ?? warnOncePerOutage();
    if (options.client && isIoredis(options.client)) refuseResends(options.client);
    this.#redis = options.client
      ? borrowClient(options.client)
      : ownClient(connectionOf(options), this.#onError);
    this.#redis.connected.then(
      () => {
        this.#connected = true;
      },
      () => {},
    );
  }

  /** Resolves when the store's own connection is up (a borrowed client is assumed ready). */
  async ready(): Promise<void> {
    await this.#redis.connected;
  }

  /** Redis key of a session; exposed for tests and operators. */
  sessionKey(id: string): string {
    return this.#sessionPrefix + id;
  }

  userKey(userId: string): string {
    return this.#userPrefix + userId;
  }

  async load(id: string): Promise<StoredSession | null> {
    const key = this.sessionKey(id);
    let reply: unknown;
    try {
      reply = await this.#send(key, ['HGETALL', key]);
    } catch (error) {
      // A key of another type under our prefix is garbage, not an outage.
      if (isWrongType(error)) return null;
      throw error;
    }
    return parseSession(reply);
  }

  async write(id: string, write: SessionWrite): Promise<WriteResult> {
    const key = this.sessionKey(id);
    // The index entry goes first: a failure after it leaves a stale entry, which
    // listing prunes; the other order could leave a bound session that
    // "log out everywhere" cannot find.
    if (typeof write.userId === 'string') {
      await this.#write(INDEX_ADD, this.userKey(write.userId), [
        String(write.absoluteExpiresAt),
        id,
        String(write.now),
      ]);
    }
    const reply = await this.#write(WRITE, key, writeArgs(write));
    const bound = reply === 1 || (Array.isArray(reply) && reply[0] === 1);
    if (typeof write.userId === 'string' && bound) {
      // Again after the bind: a listing or a revoke-all that ran between the two
      // saw the entry without a bound session and may have pruned it.
      await this.#write(INDEX_ADD, this.userKey(write.userId), [
        String(write.absoluteExpiresAt),
        id,
        String(write.now),
      ]);
    }
    if (reply === 1) return { status: 'ok' };
    if (reply === 0) return { status: 'gone' };
    if (reply === -1) return { status: 'exists' };
    const [code, field, current] = reply as [number, string, string?];
    if (code === 2) return { status: 'conflict', key: field, current: current ?? null };
    // {1, oldUser}: the binding changed; drop the entry under the previous user.
    if (field && field !== write.userId) await this.#unindex(field, id);
    return { status: 'ok' };
  }

  async increment(id: string, key: string, by: number): Promise<IncrementResult> {
    const [code, text] = (await this.#write(INCREMENT, this.sessionKey(id), [key, String(by)])) as [
      number,
      string?,
    ];
    if (code === 0) return { status: 'gone' };
    if (code === -1) return { status: 'not-a-number' };
    return { status: 'ok', value: Number(text) };
  }

  async touch(id: string, touchedAt: number, expiresAt: number): Promise<boolean> {
    return (await this.#eval(TOUCH, this.sessionKey(id), [String(touchedAt), String(expiresAt)])) === 1;
  }

  async destroy(id: string, options: { graceMs?: number } = {}): Promise<boolean> {
    const grace = String(Math.max(0, Math.ceil(options.graceMs ?? 0)));
    const [existed, userId] = (await this.#write(DESTROY, this.sessionKey(id), [grace])) as [number, string];
    if (userId) await this.#unindex(userId, id);
    return existed === 1;
  }

  async listByUser(userId: string, now: number): Promise<SessionSummary[]> {
    const indexKey = this.userKey(userId);
    await this.#send(indexKey, ['ZREMRANGEBYSCORE', indexKey, '-inf', `(${now}`]);
    const ids = (await this.#send(indexKey, ['ZRANGE', indexKey, '0', '-1'])) as string[];
    const replies = await Promise.all(
      ids.map((id) => {
        const key = this.sessionKey(id);
        return this.#send(key, ['HMGET', key, '$u', '$m']) as Promise<(string | null)[]>;
      }),
    );
    const live: SessionSummary[] = [];
    const stale: string[] = [];
    replies.forEach(([owner, meta], i) => {
      const id = ids[i]!;
      const times = parseMeta(meta ?? null);
      if (owner !== userId || !times) stale.push(id);
      else live.push({ id, ...times });
    });
    // Self-healing: entries of sessions that expired, moved or vanished leave the index.
    if (stale.length > 0) await this.#send(indexKey, ['ZREM', indexKey, ...stale]);
    return live;
  }

  async destroyForUser(userId: string, id: string): Promise<boolean> {
    const done = (await this.#write(DESTROY_FOR_USER, this.sessionKey(id), [userId])) === 1;
    await this.#unindex(userId, id);
    return done;
  }

  async destroyByUser(userId: string, options: { except?: string } = {}): Promise<number> {
    const indexKey = this.userKey(userId);
    // Sessions past their absolute expiry are dead already: prune rather than count them.
    await this.#send(indexKey, ['ZREMRANGEBYSCORE', indexKey, '-inf', `(${Date.now()}`]);
    const ids = ((await this.#send(indexKey, ['ZRANGE', indexKey, '0', '-1'])) as string[]).filter(
      (id) => id !== options.except,
    );
    const results = await Promise.all(
      ids.map((id) => this.#write(DESTROY_FOR_USER, this.sessionKey(id), [userId])),
    );
    // Only entries of sessions it destroyed: one being bound right now is not yet
    // bound, and its entry must stay (the bind is ordered after this revoke).
    const destroyed = ids.filter((_, i) => results[i] === 1);
    if (destroyed.length > 0) await this.#send(indexKey, ['ZREM', indexKey, ...destroyed]);
    return destroyed.length;
  }

  async close(): Promise<void> {
    await this.#redis.close();
  }

  /** Removing an index entry is cleanup: if it fails, listing prunes the entry later. */
  async #unindex(userId: string, id: string): Promise<void> {
    const indexKey = this.userKey(userId);
    await this.#send(indexKey, ['ZREM', indexKey, id]).catch(() => {});
  }

  async #eval<T = unknown>(
    script: Script,
    key: string,
    args: string[],
    send = (command: string[]) => this.#send(key, command) as Promise<T>,
  ): Promise<T> {
    try {
      return await send(['EVALSHA', script.sha, '1', key, ...args]);
    } catch (error) {
      // Scripts vanish when Redis restarts or fails over: send the source once.
      if (!isNoScript(error)) throw error;
      return send(['EVAL', script.source, '1', key, ...args]);
    }
  }

  /** A script that changes data: with durability on, it returns only once replicas have it. */
  async #write(script: Script, key: string, args: string[]): Promise<unknown> {
    const durability = this.#durability;
    if (!durability) return this.#eval(script, key, args);
    const { replicas, timeoutMs } = durability;
    const [reply, acked] = await this.#eval(
      script,
      key,
      args,
      (command) =>
        this.#send(key, command, () =>
          this.#redis.sendThenWait(key, command, replicas, timeoutMs),
        ) as Promise<[unknown, unknown]>,
    );
    if (!(Number(acked) >= replicas)) throw notReplicated(Number(acked), replicas, timeoutMs);
    return reply;
  }

  /**
   * A command passed its deadline and nothing came back since it left: the
   * connection is stalled (half-open after a NAT or firewall lost its state, or
   * a frozen server), not slow. The client never notices by itself, so a client
   * the store owns gets a new connection; an app's client is reported.
   */
  #checkStalled(answered: number): void {
    if (this.#stallCheck) return;
    this.#stallCheck = true;
    // Judged after the poll phase: replies that sat unread while the event loop
    // was blocked (a long GC pause) are counted first, so they are no stall.
    setImmediate(() => {
      this.#stallCheck = false;
      if (this.#answered !== answered || !this.#redis.ready) return;
      const silent = `Redis answered nothing for ${this.#deadlines.timeoutMs} ms while commands waited: the connection looks dead (half-open) or Redis is frozen`;
      if (this.#redis.replace) {
        this.#onError(new Error(`${silent}; opening a new connection.`));
        this.#redis.replace();
      } else {
        this.#onError(
          new Error(
            `${silent}. The store does not replace a client it was given: reconnect it (ioredis: the socketTimeout option does), or pass \`url\` and let the store own its connection.`,
          ),
        );
      }
    });
  }

  #send(key: string, args: string[], call = () => this.#redis.send(key, args)): Promise<unknown> {
    if (!this.#redis.ready) {
      return Promise.reject(storeUnavailable(`Redis ${args[0]}`, new Error('Redis connection is down')));
    }
    // Hot path: one promise and one deadline entry per command, nothing else.
    return new Promise((resolve, reject) => {
      const command = args[0]!;
      // What the connection had answered when this command left: still the same
      // at its deadline means nothing at all came back meanwhile.
      const answered = this.#answered;
      const deadline = this.#deadlines.start(() => {
        reject(storeUnavailable(`Redis ${command}`, timeoutError(command, this.#deadlines.timeoutMs)));
        if (this.#answered === answered) this.#checkStalled(answered);
      });
      // Before the first connection is up, wait for it, but never send a command
      // whose deadline already passed: its request was answered 503 meanwhile.
      const sent = this.#connected
        ? call()
        : this.#redis.connected.then(() => (deadline.done ? undefined : call()));
      sent.then(
        (reply) => {
          this.#answered++;
          if (deadline.done) return;
          deadline.done = true;
          resolve(reply);
        },
        (error) => {
          this.#answered++;
          if (deadline.done) return;
          deadline.done = true;
          reject(storeUnavailable(`Redis ${command}`, error));
        },
      );
    });
  }
}

const CONNECTIONS = ['url', 'cluster', 'sentinel', 'client'] as const;

function connectionOf(options: RedisStoreOptions): RedisConnection {
  if (options.cluster) return { cluster: options.cluster };
  if (options.sentinel) return { sentinel: options.sentinel };
  return { url: options.url! };
}

function writeArgs(write: SessionWrite): string[] {
  const expect = write.expect ?? [];
  const args = [
    write.create ? 'c' : 'u',
    String(write.expiresAt),
    write.touchedAt === undefined ? '' : String(write.touchedAt),
    write.userId === undefined ? '0' : write.userId === null ? '2' : '1',
    write.userId ?? '',
    write.create ? String(write.create.createdAt) : '',
    write.create ? String(write.absoluteExpiresAt) : '',
    String(expect.length),
    String(write.set.length),
    String(write.delete.length),
  ];
  for (const [field, json] of expect) args.push(field, json === null ? '0' : `1${json}`);
  for (const [field, json] of write.set) args.push(field, json);
  for (const field of write.delete) args.push(field);
  return args;
}

/** HGETALL reply (RESP2 flat array, or RESP3 map/object) to a stored session; null when absent or unreadable. */
export function parseSession(reply: unknown): StoredSession | null {
  // Hot path: RESP2 replies arrive as a flat [field, value, ...] array.
  const flat = Array.isArray(reply) ? reply : toEntries(reply).flat();
  if (flat.length < 2) return null;
  const data = new Map<string, string>();
  let meta: string | null = null;
  let userId: string | null = null;
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const field = flat[i];
    const value = flat[i + 1];
    // Anything but text is not a reply this store wrote.
    if (typeof field !== 'string' || typeof value !== 'string') return null;
    if (field[0] !== '$') data.set(field, value);
    else if (field === '$m') meta = value;
    else if (field === '$u') userId = value;
  }
  // Without readable metadata nobody can tell whether the session is alive: treat it as absent.
  const times = parseMeta(meta);
  return times ? { data, ...times, userId } : null;
}

const META = /^(\d+):(\d+):(\d+)$/;

/** "$m" = "created:touched:absoluteExpiry" (epoch ms), or null when unreadable. */
function parseMeta(
  meta: string | null,
): { createdAt: number; touchedAt: number; absoluteExpiresAt: number } | null {
  const match = meta === null ? null : META.exec(meta);
  if (!match) return null;
  return { createdAt: Number(match[1]), touchedAt: Number(match[2]), absoluteExpiresAt: Number(match[3]) };
}

function toEntries(reply: unknown): [unknown, unknown][] {
  if (reply instanceof Map) return [...reply];
  if (reply && typeof reply === 'object') return Object.entries(reply);
  return [];
}

function isNoScript(error: unknown): boolean {
  return replyStartsWith(error, 'NOSCRIPT');
}

function isWrongType(error: unknown): boolean {
  return replyStartsWith(error, 'WRONGTYPE');
}

/** Redis error replies arrive wrapped as `cause` of a STORE_UNAVAILABLE error. */
function replyStartsWith(error: unknown, prefix: string): boolean {
  const cause = error instanceof Error ? error.cause : undefined;
  return cause instanceof Error && cause.message.startsWith(prefix);
}

function warnOncePerOutage(): (error: Error) => void {
  let last = 0;
  return (error) => {
    const now = Date.now();
    if (now - last < 30_000) return;
    last = now;
    process.emitWarning(`unpinned redis store: ${error.message}`, { code: 'UNPINNED_REDIS_CONNECTION' });
  };
}

/**
 * @example
 * const store = redisStore({ url: 'redis://127.0.0.1:6379' });
 * const sessions = createSessions({ store });
 */
export function redisStore(options: RedisStoreOptions): RedisStore {
  return new RedisStore(options);
}
