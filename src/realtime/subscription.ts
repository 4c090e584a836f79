/**
 * One subscriber's view of a channel, on whichever server it reached: resume
 * from (epoch, offset) without a gap and without a duplicate.
 *
 * Order matters (DESIGN §13): join the live feed first and buffer it, then read
 * the history after the offset, then replay the buffer dropping what the
 * history already gave, then go live. A live message that is not the next
 * offset (pub/sub dropped one) sends the subscriber back to the history; an
 * offset the history no longer covers, or another epoch, is an explicit
 * `reset`, never a silent gap.
 */
import type { LiveListener, LiveMessage } from './fanout.js';

/** Where a subscriber is: the epoch and the last offset it has. */
export interface Position {
  epoch?: string;
  offset?: number;
}

export type RealtimeEvent =
  /** Subscribed; `offset` is the last offset the subscriber has (messages follow it). */
  | { type: 'ready'; epoch: string; offset: number }
  /** A published message; `data` is its JSON text. */
  | { type: 'message'; epoch: string; offset: number; data: string }
  /** History no longer covers the position: state derived from this channel must be reloaded. Messages follow `offset`. */
  | { type: 'reset'; epoch: string; offset: number }
  /** The subscription ended (Redis unreachable, server shutting down): reconnect from the last offset. */
  | { type: 'error'; code: string; message: string };

export interface HistoryReply {
  epoch: string;
  last: number;
  first: number;
  entries: { offset: number; data: string }[];
}

export interface ChannelAccess {
  read(after: number): Promise<HistoryReply>;
  join(listener: LiveListener): Promise<void>;
  leave(listener: LiveListener): void;
}

export class Subscription implements LiveListener {
  readonly #access: ChannelAccess;
  readonly #emit: (event: RealtimeEvent) => void;
  #epoch = '';
  #cursor = 0;
  #syncing = true;
  #buffer: LiveMessage[] = [];
  #closed = false;

  constructor(access: ChannelAccess, emit: (event: RealtimeEvent) => void) {
    this.#access = access;
    this.#emit = emit;
  }

  get position(): { epoch: string; offset: number } {
    return { epoch: this.#epoch, offset: this.#cursor };
  }

  /** Resolves once the history after `from` was delivered and the subscription is live. */
  async start(from: Position): Promise<void> {
    await this.#access.join(this);
    try {
      await this.#catchUp(from, true);
    } catch (error) {
      this.close();
      throw error;
    }
  }

  message(message: LiveMessage): void {
    if (this.#closed) return;
    if (this.#syncing) this.#buffer.push(message);
    else this.#live(message);
  }

  failed(error: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#emit({
      type: 'error',
      code: 'UNPINNED_ERR_REALTIME_UNAVAILABLE',
      message: `The live feed from Redis broke (${error.message}); reconnect from your last offset.`,
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#access.leave(this);
  }

  #live(message: LiveMessage): void {
    if (message.epoch === this.#epoch && message.offset <= this.#cursor) return; // already delivered
    if (message.epoch === this.#epoch && message.offset === this.#cursor + 1) {
      this.#cursor = message.offset;
      this.#emit({ type: 'message', epoch: message.epoch, offset: message.offset, data: message.data });
      return;
    }
    // A gap (a message pub/sub did not bring) or another epoch: the history decides.
    this.#buffer.push(message);
    this.#syncing = true;
    this.#catchUp({ epoch: this.#epoch, offset: this.#cursor }, false).catch((error: Error) => {
      this.failed(error);
      this.#access.leave(this);
    });
  }

  async #catchUp(from: Position, first: boolean): Promise<void> {
    this.#syncing = true;
    let reply = await this.#access.read(from.offset ?? -1);
    if (this.#closed) return;
    const wanted = from.offset;
    const covered =
      wanted !== undefined &&
      (from.epoch === undefined || from.epoch === reply.epoch) &&
      wanted <= reply.last &&
      wanted + 1 >= reply.first;
    this.#epoch = reply.epoch;
    if (!covered) {
      this.#cursor = reply.last;
      this.#emit({ type: wanted === undefined ? 'ready' : 'reset', epoch: reply.epoch, offset: reply.last });
    } else {
      this.#cursor = wanted;
      if (first) this.#emit({ type: 'ready', epoch: reply.epoch, offset: wanted });
      for (;;) {
        this.#deliver(reply);
        if (this.#cursor >= reply.last) break;
        reply = await this.#access.read(this.#cursor);
        if (this.#closed) return;
        if (reply.epoch !== this.#epoch || this.#cursor + 1 < reply.first) {
          // Trimmed or recreated while we paged through it.
          return this.#catchUp({ epoch: this.#epoch, offset: this.#cursor }, false);
        }
      }
    }
    this.#syncing = false;
    // Messages of another epoch than the one the history just gave are from before a reset.
    const buffered = this.#buffer.filter((m) => m.epoch === this.#epoch).sort((a, b) => a.offset - b.offset);
    this.#buffer = [];
    for (const message of buffered) {
      if (this.#syncing || this.#closed) {
        if (!this.#closed) this.#buffer.push(message);
        continue;
      }
      this.#live(message);
    }
  }

  #deliver(reply: HistoryReply): void {
    for (const entry of reply.entries) {
      if (entry.offset <= this.#cursor) continue;
      this.#cursor = entry.offset;
      this.#emit({ type: 'message', epoch: reply.epoch, offset: entry.offset, data: entry.data });
    }
  }
}
