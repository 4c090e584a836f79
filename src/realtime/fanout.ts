/**
 * Live fan-out: one sharded pub/sub subscription (SSUBSCRIBE) per channel that
 * has subscribers on this server, shared by all of them.
 *
 * Why pub/sub and not blocking stream reads (XREAD BLOCK): the publish script
 * announces each entry itself, so a publish stays one round trip; a server
 * holds one subscriber connection (one per shard on a Cluster) whatever the
 * number of channels, where XREAD BLOCK needs a connection re-armed after every
 * batch and one blocked call per shard covering every channel's key. Pub/sub
 * is lossy when a connection drops: that is why every message carries its
 * offset, a gap makes the subscriber read the history, and a dropped
 * subscriber connection fails every subscription over to a resume.
 */
import { realtimeUnavailable } from './errors.js';
import type { RedisLink, Subscriber } from './redis.js';

export interface LiveMessage {
  epoch: string;
  offset: number;
  /** The published value, as JSON. */
  data: string;
}

export interface LiveListener {
  message(message: LiveMessage): void;
  /** The live feed broke (Redis connection lost): the listener is already removed. */
  failed(error: Error): void;
}

interface Joined {
  listeners: Set<LiveListener>;
  subscribed: Promise<void>;
}

export function parseLive(raw: string): LiveMessage | null {
  const a = raw.indexOf('|');
  const b = raw.indexOf('|', a + 1);
  if (a < 0 || b < 0) return null;
  return { epoch: raw.slice(0, a), offset: Number(raw.slice(a + 1, b)), data: raw.slice(b + 1) };
}

export class Fanout {
  readonly #link: RedisLink;
  #channels = new Map<string, Joined>();
  #subscriber: Promise<Subscriber & { destroy(): unknown }> | null = null;
  #closed = false;

  constructor(link: RedisLink) {
    this.#link = link;
  }

  /** Channels with live subscribers on this server, and how many. */
  counts(): Map<string, number> {
    return new Map([...this.#channels].map(([k, v]) => [k, v.listeners.size]));
  }

  /** Resolves once messages published from now on reach `listener`. */
  async join(live: string, listener: LiveListener): Promise<void> {
    let joined = this.#channels.get(live);
    if (!joined) {
      const listeners = new Set<LiveListener>();
      const created: Joined = { listeners, subscribed: this.#subscribe(live, listeners) };
      joined = created;
      this.#channels.set(live, created);
      created.subscribed.catch(() => {
        if (this.#channels.get(live) === created) this.#channels.delete(live);
      });
    }
    joined.listeners.add(listener);
    try {
      await joined.subscribed;
    } catch (error) {
      joined.listeners.delete(listener);
      throw error;
    }
  }

  leave(live: string, listener: LiveListener): void {
    const joined = this.#channels.get(live);
    if (!joined?.listeners.delete(listener) || joined.listeners.size > 0) return;
    this.#channels.delete(live);
    const subscriber = this.#subscriber;
    void joined.subscribed
      .then(() => subscriber)
      .then((s) => s?.sUnsubscribe(live))
      .catch(() => {});
  }

  async #subscribe(live: string, listeners: Set<LiveListener>): Promise<void> {
    this.#subscriber ??= this.#connect();
    const subscriber = await this.#subscriber;
    const onMessage = (raw: string) => {
      const message = parseLive(raw);
      if (message) for (const listener of listeners) listener.message(message);
    };
    try {
      await Promise.race([
        subscriber.sSubscribe(live, onMessage),
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error('SSUBSCRIBE did not answer')), this.#link.timeoutMs).unref(),
        ),
      ]);
    } catch (error) {
      throw realtimeUnavailable('subscribe', error);
    }
  }

  #connect(): Promise<Subscriber & { destroy(): unknown }> {
    let failed = false;
    const connecting = this.#link.subscriber((error) => {
      if (failed || this.#closed) return;
      failed = true;
      this.#fail(connecting, error);
    });
    connecting.catch(() => {
      if (this.#subscriber === connecting) this.#subscriber = null;
    });
    return connecting;
  }

  /** The subscriber connection broke: every subscription on it resumes elsewhere or later. */
  #fail(connecting: Promise<Subscriber & { destroy(): unknown }>, error: Error): void {
    if (this.#subscriber !== connecting) return;
    this.#subscriber = null;
    void connecting.then((s) => s.destroy()).catch(() => {});
    const channels = this.#channels;
    this.#channels = new Map();
    for (const joined of channels.values()) for (const listener of joined.listeners) listener.failed(error);
  }

  async close(): Promise<void> {
    this.#closed = true;
    const subscriber = this.#subscriber;
    this.#subscriber = null;
    this.#channels.clear();
    if (subscriber) await subscriber.then((s) => s.destroy()).catch(() => {});
  }
}
