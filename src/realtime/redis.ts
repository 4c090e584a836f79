/**
 * The two Redis connections of a realtime instance: one for commands (publish,
 * history, presence) and one in subscribe mode for the live fan-out. node-redis
 * 6, standalone or Cluster. Both are made without an offline queue, so that a
 * publish while Redis is down fails now (typed error) instead of landing later,
 * after its caller gave up on it.
 */
import {
  commandsOf,
  type NodeRedisClientLike,
  type NodeRedisClusterLike,
} from '../stores/redis/commander.js';
import { importRedis } from '../stores/redis/own-client.js';
import { realtimeUnavailable } from './errors.js';
import type { Script } from './scripts.js';

/** Where the instance connects: a URL, or any nodes of a Redis Cluster. */
export type RealtimeRedis = { url: string } | { cluster: { rootNodes: string[] } };

export interface Subscriber {
  sSubscribe(channel: string, listener: (message: string) => void): Promise<void>;
  sUnsubscribe(channel: string): Promise<void>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  readonly isReady?: boolean;
}

type Owned = (NodeRedisClientLike | NodeRedisClusterLike) &
  Subscriber & { connect(): Promise<unknown>; destroy(): unknown; close(): Promise<void> };

export class RedisLink {
  readonly #timeoutMs: number;
  readonly #connection: RealtimeRedis;
  readonly #onError: (error: Error) => void;
  #commands: Owned | null = null;
  #send: ((key: string, args: string[]) => Promise<unknown>) | null = null;
  readonly ready: Promise<void>;

  constructor(connection: RealtimeRedis, timeoutMs: number, onError: (error: Error) => void) {
    this.#timeoutMs = timeoutMs;
    this.#connection = connection;
    this.#onError = onError;
    this.ready = this.#open();
    this.ready.catch(() => {});
  }

  get timeoutMs(): number {
    return this.#timeoutMs;
  }

  async #make(onError: (error: Error) => void): Promise<Owned> {
    const redis = await importRedis('unpinned/realtime needs', '');
    const connection = this.#connection;
    const nodeOptions = { disableOfflineQueue: true, commandOptions: { timeout: 0 } };
    const created =
      'cluster' in connection
        ? redis.createCluster({
            rootNodes: connection.cluster.rootNodes.map((url) => ({ url })),
            defaults: nodeOptions,
          })
        : redis.createClient({ url: connection.url, ...nodeOptions });
    // Without a listener a connection error would crash the process.
    created.on('error', onError);
    return created as unknown as Owned;
  }

  async #open(): Promise<void> {
    this.#commands = await this.#make(this.#onError);
    await this.#commands.connect();
    this.#send = commandsOf(this.#commands).send;
  }

  /**
   * A fresh connection in subscribe mode. The fan-out replaces it whole after an
   * error rather than let the client resubscribe by itself: messages published
   * while it was away are gone from pub/sub, so every subscriber must resume
   * from its offset anyway, and a fresh client carries no stale listeners.
   */
  async subscriber(onError: (error: Error) => void): Promise<Subscriber & { destroy(): unknown }> {
    const client = await this.#make(onError);
    try {
      await this.#deadline('subscribe', () => client.connect());
    } catch (error) {
      void Promise.resolve(client.destroy()).catch(() => {});
      throw error;
    }
    return client;
  }

  /** Run a script by EVALSHA, falling back to EVAL once after NOSCRIPT (a restarted server). */
  async eval(operation: string, script: Script, keys: string[], args: string[]): Promise<unknown> {
    return this.#deadline(operation, async () => {
      await this.ready;
      const send = this.#send!;
      const tail = [String(keys.length), ...keys, ...args];
      try {
        return await send(keys[0]!, ['EVALSHA', script.sha, ...tail]);
      } catch (error) {
        if (!String((error as Error)?.message).startsWith('NOSCRIPT')) throw error;
        return await send(keys[0]!, ['EVAL', script.source, ...tail]);
      }
    });
  }

  async #deadline<T>(operation: string, run: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`Redis did not answer within ${this.#timeoutMs} ms`)),
        this.#timeoutMs,
      );
    });
    try {
      return await Promise.race([run(), expired]);
    } catch (error) {
      throw realtimeUnavailable(operation, error);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await this.ready.catch(() => {});
    try {
      await this.#commands?.destroy();
    } catch {
      // Already closed.
    }
  }
}
