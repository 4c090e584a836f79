/**
 * The keep-alive connection pool of one server: the balancer's upstream client.
 *
 * Why not undici: undici is a general HTTP client (it validates every header again, builds a
 * request object, runs llhttp in WebAssembly, supports pipelining and interceptors). A proxy's
 * requests were already parsed and validated by node:http, so most of that is paid twice;
 * measured on the balancer benchmark, this pool costs about a third less CPU per request
 * (docs/benchmarks.md). It does one thing: HTTP/1.1 requests, one at a time per connection,
 * over connections that are reused most-recently-used first (the likeliest to still be open).
 *
 * Limits: `connections` caps open connections (null: no cap); requests beyond it wait in FIFO
 * order. Idle connections are closed after `keepAliveTimeoutMs`, or earlier when the server's
 * `Keep-Alive: timeout=N` says it will close first.
 */
import {
  Connection,
  type ConnectionOwner,
  type ConnectionSettings,
  type UpstreamHandler,
  type UpstreamRequest,
} from './connection.js';
import { UpstreamError } from './errors.js';

export type { UpstreamHandler, UpstreamRequest } from './connection.js';
export { UpstreamError, type UpstreamErrorKind } from './errors.js';

export interface PoolOptions {
  connections: number | null;
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  idleTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxResponseHeaderBytes: number;
}

export class UpstreamPool implements ConnectionOwner {
  readonly #settings: ConnectionSettings;
  readonly #max: number;
  readonly #idle: Connection[] = [];
  readonly #all = new Set<Connection>();
  readonly #queue: [UpstreamRequest, UpstreamHandler][] = [];
  #queueHead = 0;
  #sweep: NodeJS.Timeout | undefined;
  #closing = false;
  #onEmpty: (() => void) | undefined;

  /** `origin` is `http://host:port`. */
  constructor(origin: string, options: PoolOptions) {
    const url = new URL(origin);
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    this.#settings = {
      host,
      port: Number(url.port || 80),
      hostHeader: url.host,
      connectTimeoutMs: options.connectTimeoutMs,
      headersTimeoutMs: options.headersTimeoutMs,
      idleTimeoutMs: options.idleTimeoutMs,
      keepAliveTimeoutMs: options.keepAliveTimeoutMs,
      maxResponseHeaderBytes: options.maxResponseHeaderBytes,
    };
    this.#max = options.connections ?? Number.POSITIVE_INFINITY;
  }

  /** Sends `req`; `handler` hears what happens (see UpstreamHandler). */
  dispatch(req: UpstreamRequest, handler: UpstreamHandler): void {
    if (this.#closing) {
      handler.onError(new UpstreamError('closed', 'The pool is closed'));
      return;
    }
    if (req.upgrade === undefined) {
      const conn = this.#takeIdle();
      if (conn) return void conn.run(req, handler);
    }
    // An upgrade always gets a new connection: it leaves the pool if the server switches.
    if (this.#all.size < this.#max || req.upgrade !== undefined) this.#open(req, handler);
    else this.#queue.push([req, handler]);
  }

  /**
   * Closes every idle connection: after one was found closed by the server, the others that
   * idled as long are suspect too (a restarted server closed them all).
   */
  purgeIdle(): void {
    for (const conn of this.#idle.splice(0)) conn.close();
  }

  /** Stops taking requests, lets running ones finish, closes every connection. */
  close(): Promise<void> {
    this.#closing = true;
    for (const conn of this.#idle) conn.close();
    this.#idle.length = 0;
    return this.#whenEmpty();
  }

  /** Fails queued and running requests and closes every connection now. */
  destroy(): Promise<void> {
    this.#closing = true;
    const err = new UpstreamError('closed', 'The pool was destroyed');
    for (const [, handler] of this.#queue.splice(this.#queueHead)) handler.onError(err);
    this.#queue.length = 0;
    this.#queueHead = 0;
    for (const conn of this.#all) conn.destroy(err);
    this.#idle.length = 0;
    return this.#whenEmpty();
  }

  // ---- ConnectionOwner ----------------------------------------------------------------

  ready(conn: Connection): void {
    const next = this.#dequeue();
    if (next) return void conn.run(next[0], next[1]);
    if (this.#closing) return void conn.close();
    this.#idle.push(conn);
    this.#sweep ??= setTimeout(() => this.#expire(), this.#settings.keepAliveTimeoutMs).unref();
  }

  gone(conn: Connection): void {
    if (!this.#all.delete(conn)) return;
    const i = this.#idle.lastIndexOf(conn);
    if (i >= 0) this.#idle.splice(i, 1);
    // A slot is free: a waiting request gets a connection of its own.
    if (this.#all.size < this.#max) {
      const next = this.#dequeue();
      if (next) this.#open(next[0], next[1]);
    }
    if (this.#all.size === 0) this.#onEmpty?.();
  }

  // ---- internals ----------------------------------------------------------------------

  #open(req: UpstreamRequest, handler: UpstreamHandler): void {
    this.#all.add(new Connection(this.#settings, this, req, handler));
  }

  /** The most recently used idle connection whose keep-alive has not run out. */
  #takeIdle(): Connection | undefined {
    const idle = this.#idle;
    if (idle.length === 0) return undefined;
    const now = performance.now();
    while (idle.length > 0) {
      const conn = idle.pop()!;
      if (conn.idleUntil > now && !conn.closed) return conn;
      conn.close();
    }
    return undefined;
  }

  #dequeue(): [UpstreamRequest, UpstreamHandler] | undefined {
    if (this.#queueHead >= this.#queue.length) return undefined;
    const next = this.#queue[this.#queueHead]!;
    this.#queue[this.#queueHead++] = undefined as never;
    if (this.#queueHead === this.#queue.length) {
      this.#queue.length = 0;
      this.#queueHead = 0;
    }
    return next;
  }

  /** Closes idle connections whose keep-alive ran out; runs while any are idle. */
  #expire(): void {
    this.#sweep = undefined;
    const now = performance.now();
    // Oldest first: the idle list is in order of release.
    let soonest = Number.POSITIVE_INFINITY;
    for (const conn of [...this.#idle]) {
      if (conn.idleUntil <= now) conn.close();
      else soonest = Math.min(soonest, conn.idleUntil);
    }
    if (soonest !== Number.POSITIVE_INFINITY) {
      this.#sweep = setTimeout(() => this.#expire(), Math.max(10, soonest - now)).unref();
    }
  }

  #whenEmpty(): Promise<void> {
    if (this.#all.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.#onEmpty;
      this.#onEmpty = () => {
        previous?.();
        resolve();
      };
    });
  }
}
