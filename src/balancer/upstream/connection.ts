/**
 * One keep-alive TCP connection to a server, carrying one request at a time (no pipelining:
 * HAProxy and nginx do not pipeline to servers either). It writes the request head as one string,
 * streams the body, parses the response with `ResponseParser` and hands it to the request's
 * handler. The pool (pool.ts) decides which request runs on which connection.
 */
import { connect, type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { UpstreamError } from './errors.js';
import { ResponseParser, type ResponseSink } from './parser.js';

/** A request to send: `headers` is a flat [name, value, ...] list with lower-case names. */
export interface UpstreamRequest {
  method: string;
  path: string;
  headers: readonly string[];
  body: Readable | null;
  /** Upgrade protocol (e.g. `websocket`): the request gets a connection of its own. */
  upgrade?: string;
}

/** Receives one request's outcome; exactly one of onComplete, onError, onUpgrade ends it. */
export interface UpstreamHandler {
  /**
   * The request goes on the wire now: from here on the server may have acted on it. A failure
   * before this call means the request never reached the server. `abort` cancels the request.
   */
  onConnect(abort: (err?: Error) => void): void;
  /** The final response head. Return false to pause the body until `resume()` is called. */
  onHeaders(status: number, headers: string[], resume: () => void, reason: string): boolean;
  /**
   * A piece of the response body; `last` when it completes the body (the response then ends
   * with no more data). Return false to pause until `resume()`.
   */
  onData(chunk: Buffer, last: boolean): boolean;
  onComplete(): void;
  onError(err: Error): void;
  /** 101 to an upgrade request: the socket is the caller's now, with bytes read past the head. */
  onUpgrade?(status: number, headers: string[], socket: Socket, head: Buffer): void;
}

export interface ConnectionSettings {
  host: string;
  port: number;
  /** The Host header for requests that came without one (HTTP/1.0 clients). */
  hostHeader: string;
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  idleTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxResponseHeaderBytes: number;
}

/** What a connection tells its pool. */
export interface ConnectionOwner {
  /** Connected, or done with a request and reusable: give it work or keep it idle. */
  ready(conn: Connection): void;
  /** The socket is gone (or was handed over by an upgrade). */
  gone(conn: Connection): void;
}

const NONE = 0;
const CONNECTING = 1;
const HEADERS = 2;
const BODY = 3;
/** The server stopped reading the request body (the socket's buffer is full). */
const WRITE = 4;

/** The server may close a keep-alive connection as its timeout ends: stop reusing it 1 s before. */
const keepAliveMarginMs = 1000;

/** Size of a connection's read buffer: a whole small response, or a good slice of a big one. */
const readBufferBytes = 32 * 1024;

export class Connection implements ResponseSink {
  readonly socket: Socket;
  /** Keep-alive deadline while idle (performance.now() clock). */
  idleUntil = 0;
  #handler: UpstreamHandler | undefined;
  /** The request this connection was opened for, run as soon as it connects. */
  #first: [UpstreamRequest, UpstreamHandler] | undefined;
  #closed = false;
  #reusable = false;
  #requestDone = true;
  #completed = false;
  #paused = false;
  #upgraded = false;
  /** The running request offered an upgrade: a declined one leaves the connection unusable. */
  #upgradeOffered = false;
  /** Requests run on this connection so far, and whether the current one got any byte back. */
  #uses = 0;
  #received = false;
  #borrowed = false;
  #keepAliveMs: number;
  #phase = NONE;
  /** One timer per phase, made once and re-armed with refresh(): none is made per request. */
  readonly #timers: (NodeJS.Timeout | undefined)[] = [undefined, undefined, undefined, undefined, undefined];
  #error: Error | undefined;
  #body: BodyPump | undefined;
  #upgradeHead: { status: number; headers: string[] } | undefined;
  readonly #parser: ResponseParser;
  /** The `resume` given to the current request; a finished request's resume does nothing. */
  #resume: () => void = () => {};

  /** Opens a connection for `req`; once connected it runs it, then offers itself to `owner`. */
  constructor(
    readonly settings: ConnectionSettings,
    readonly owner: ConnectionOwner,
    req: UpstreamRequest,
    handler: UpstreamHandler,
  ) {
    this.#first = [req, handler];
    this.#keepAliveMs = settings.keepAliveTimeoutMs;
    this.#parser = new ResponseParser(this, settings.maxResponseHeaderBytes);
    // Reads land in one buffer per connection and go straight to the parser (`onread`), without
    // a Readable stream's machinery per read; what must outlive the read (body chunks, a
    // partial head) is copied. An upgrade keeps the stream: its socket is piped once switched.
    const onread =
      req.upgrade === undefined
        ? {
            buffer: Buffer.allocUnsafe(readBufferBytes),
            callback: (n: number, buf: Uint8Array): boolean =>
              this.#onData(buf.subarray(0, n) as Buffer, true),
          }
        : undefined;
    this.socket = connect({
      host: settings.host,
      port: settings.port,
      noDelay: true,
      keepAlive: true,
      keepAliveInitialDelay: 60_000,
      onread,
    });
    this.#arm(CONNECTING, settings.connectTimeoutMs);
    this.socket.on('connect', () => this.#onConnect());
    if (!onread) this.socket.on('data', (chunk: Buffer) => this.#onData(chunk, false));
    this.socket.on('end', () => this.#onEnd());
    this.socket.on('error', (err) => {
      this.#error ??= err;
    });
    this.socket.on('close', () => this.#onClose());
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Sends a request; the connection must be connected and idle. */
  run(req: UpstreamRequest, handler: UpstreamHandler): void {
    this.#handler = handler;
    this.#uses++;
    this.#received = false;
    this.#reusable = false;
    this.#completed = false;
    this.#upgradeHead = undefined;
    this.#upgradeOffered = req.upgrade !== undefined;
    this.#resume = () => {
      if (this.#handler === handler) this.#resumeReading();
    };
    this.#parser.expect(req.method === 'HEAD', req.upgrade !== undefined);
    handler.onConnect((err) => {
      if (this.#handler === handler) this.#fail(err ?? new UpstreamError('closed', 'Request aborted'));
    });
    if (this.#handler !== handler) return; // aborted before a byte was written
    let head = `${req.method} ${req.path} HTTP/1.1\r\n`;
    let hasHost = false;
    let hasLength = false;
    const h = req.headers;
    for (let i = 0; i < h.length; i += 2) {
      const name = h[i]!;
      if (name.length === 4 && name === 'host') hasHost = true;
      else if (name.length === 14 && name === 'content-length') hasLength = true;
      head += `${name}: ${h[i + 1]!}\r\n`;
    }
    if (!hasHost) head += `host: ${this.settings.hostHeader}\r\n`;
    // Keep-alive is HTTP/1.1's default; saying so costs a few bytes and spares servers that
    // guess otherwise.
    head +=
      req.upgrade === undefined
        ? 'connection: keep-alive\r\n'
        : `connection: upgrade\r\nupgrade: ${req.upgrade}\r\n`;
    const body = req.body;
    if (body === null) {
      this.#requestDone = true;
      this.#arm(HEADERS, this.settings.headersTimeoutMs);
      this.socket.write(`${head}\r\n`, 'latin1');
      return;
    }
    // A body of unknown length (the client sent it chunked) is re-framed as chunked here.
    if (!hasLength) head += 'transfer-encoding: chunked\r\n';
    this.#requestDone = false;
    this.socket.write(`${head}\r\n`, 'latin1');
    this.#body = new BodyPump(this, body, !hasLength);
  }

  /** Closes an idle connection (keep-alive expired, pool closing). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.socket.destroy();
  }

  /** Fails the running request, if any, with `err` and closes. */
  destroy(err: Error): void {
    this.#fail(err);
  }

  /** Called by the body pump when the whole request body was written. */
  requestBodyDone(): void {
    this.#body = undefined;
    this.#requestDone = true;
    if (this.#handler && !this.#parser.headDone) this.#arm(HEADERS, this.settings.headersTimeoutMs);
  }

  /** Called by the body pump when the request body stream failed. */
  requestBodyFailed(err: unknown): void {
    this.#body = undefined;
    if (this.#handler)
      this.#fail(new UpstreamError('request-body', 'The request body failed', { cause: err }));
  }

  // ---- ResponseSink --------------------------------------------------------------------

  onHead(status: number, reason: string, headers: string[], keepAlive: boolean, hintMs: number): void {
    const handler = this.#handler;
    if (!handler) return;
    if (status === 101) {
      this.#upgradeHead = { status, headers };
      return;
    }
    // After a declined upgrade the server may still switch, or read what follows as the new
    // protocol: the connection never carries another request.
    this.#reusable = keepAlive && !this.#upgradeOffered;
    if (hintMs > 0)
      this.#keepAliveMs = Math.min(this.settings.keepAliveTimeoutMs, hintMs - keepAliveMarginMs);
    // The body timer is armed only if the body outlasts this read (#onData): most bodies don't.
    this.#phase = NONE;
    if (handler.onHeaders(status, headers, this.#resume, reason) === false && this.#handler === handler) {
      this.#pause();
    }
  }

  onBody(chunk: Buffer, last: boolean): void {
    const handler = this.#handler;
    if (!handler) return;
    if (this.#phase === BODY) this.#timers[BODY]!.refresh();
    // The read buffer is reused by the next read: the handler gets bytes of its own.
    const own = this.#borrowed ? Buffer.from(chunk) : chunk;
    if (handler.onData(own, last) === false && this.#handler === handler) this.#pause();
  }

  onEnd(): void {
    if (this.#handler) this.#completed = true;
  }

  // ---- socket events -------------------------------------------------------------------

  #onConnect(): void {
    this.#phase = NONE;
    const first = this.#first;
    this.#first = undefined;
    if (first) this.run(first[0], first[1]);
    else this.owner.ready(this);
  }

  /** Bytes from the server; `borrowed` when they sit in the reused read buffer. Returns false to pause. */
  #onData(chunk: Buffer, borrowed: boolean): boolean {
    if (!this.#handler) {
      // Bytes nobody asked for (a server talking out of turn): this connection can't be trusted.
      this.#fail(new UpstreamError('bad-response', 'The server sent data with no request pending'));
      return false;
    }
    this.#received = true;
    this.#borrowed = borrowed;
    let used: number;
    try {
      used = this.#parser.execute(chunk);
    } catch (err) {
      this.#fail(err as Error);
      return false;
    }
    if (this.#upgradeHead && this.#handler) {
      this.#handOver(chunk.subarray(used));
      return true;
    }
    if (this.#completed) {
      // Bytes after the response (desync), or a response before the end of the upload: the
      // response stands, but the connection can't carry another request.
      if (used < chunk.length || !this.#requestDone) this.#reusable = false;
      this.#finish();
    } else if (this.#phase !== BODY && this.#handler && this.#parser.headDone && !this.#paused) {
      this.#arm(BODY, this.settings.idleTimeoutMs); // the body continues in later reads
    }
    return !this.#paused;
  }

  #onEnd(): void {
    // The server closed its side: a body that runs until close is complete now.
    if (this.#handler && this.#parser.finishOnClose()) {
      this.#reusable = false;
      this.#finish();
    }
    this.socket.destroy();
  }

  #onClose(): void {
    this.#closed = true;
    this.#phase = NONE;
    for (const t of this.#timers) if (t) clearTimeout(t);
    if (this.#upgraded) return;
    this.owner.gone(this);
    const err = this.#error;
    const first = this.#first;
    if (first) {
      this.#first = undefined;
      const failure =
        err instanceof UpstreamError
          ? err
          : new UpstreamError('connect', `Could not connect: ${err?.message ?? 'connection closed'}`, {
              cause: err,
            });
      return void first[1].onError(failure);
    }
    if (!this.#handler) return;
    const stage = this.#parser.headDone ? 'before the response was complete' : 'before answering';
    this.#fail(
      new UpstreamError('socket', `The connection closed ${stage}${err ? ` (${err.message})` : ''}`, {
        cause: err,
        stale: this.#uses > 1 && !this.#received,
      }),
    );
  }

  /** Ends the running request with an error (detached at once: no callback follows) and closes. */
  #fail(err: Error): void {
    this.#error ??= err;
    this.#phase = NONE;
    this.#body?.stop();
    this.#body = undefined;
    const handler = this.#handler;
    this.#handler = undefined;
    this.#closed = true;
    this.socket.destroy();
    handler?.onError(err);
  }

  /** The response is complete: report, then reuse the connection or close it. */
  #finish(): void {
    const handler = this.#handler!;
    this.#handler = undefined;
    this.#completed = false;
    this.#phase = NONE;
    this.#body?.stop();
    this.#body = undefined;
    if (this.#paused) this.#resumeReading();
    if (this.#reusable && !this.#closed && this.#keepAliveMs > 0) {
      this.idleUntil = performance.now() + this.#keepAliveMs;
      this.owner.ready(this);
    } else {
      this.close();
    }
    handler.onComplete();
  }

  #handOver(rest: Buffer): void {
    const handler = this.#handler!;
    const { status, headers } = this.#upgradeHead!;
    this.#handler = undefined;
    this.#upgraded = true;
    this.#phase = NONE;
    for (const t of this.#timers) if (t) clearTimeout(t);
    for (const event of ['connect', 'data', 'end', 'error', 'close']) this.socket.removeAllListeners(event);
    this.owner.gone(this);
    if (!handler.onUpgrade) {
      this.socket.destroy();
      return void handler.onError(new UpstreamError('bad-response', 'Unexpected 101 Switching Protocols'));
    }
    handler.onUpgrade(status, headers, this.socket, rest);
  }

  #resumeReading(): void {
    if (!this.#paused || this.#closed) return;
    this.#paused = false;
    if (this.#handler && this.#parser.headDone) this.#arm(BODY, this.settings.idleTimeoutMs);
    this.socket.resume();
  }

  /** Stops reading while the client is slow; a slow client is not a silent server, so no body timer. */
  #pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    if (this.#phase === BODY) this.#phase = NONE;
    this.socket.pause();
  }

  #arm(phase: number, ms: number): void {
    this.#phase = phase;
    const timer = this.#timers[phase];
    if (timer) timer.refresh();
    else this.#timers[phase] = setTimeout(() => this.#onTimeout(phase), ms).unref();
  }

  /** The body pump waits for the server to take more of the upload (or stops waiting). */
  uploadStalled(stalled: boolean): void {
    if (!this.#handler || this.#parser.headDone) return;
    if (stalled) this.#arm(WRITE, this.settings.headersTimeoutMs);
    else if (this.#phase === WRITE) this.#phase = NONE;
  }

  #onTimeout(phase: number): void {
    // A timer of a phase that already ended is stale: it is simply not re-armed.
    if (phase !== this.#phase || (phase === BODY && this.#paused)) return;
    const s = this.settings;
    if (phase === CONNECTING) {
      this.#error = new UpstreamError('connect-timeout', `Connect timeout after ${s.connectTimeoutMs} ms`);
      this.socket.destroy();
    } else if (phase === HEADERS) {
      this.#fail(new UpstreamError('headers-timeout', `No response head within ${s.headersTimeoutMs} ms`));
    } else if (phase === WRITE) {
      this.#fail(
        new UpstreamError(
          'headers-timeout',
          `The server took none of the request body for ${s.headersTimeoutMs} ms`,
        ),
      );
    } else {
      this.#fail(new UpstreamError('body-timeout', `Response body idle for ${s.idleTimeoutMs} ms`));
    }
  }
}

/** Streams a request body to the socket, with backpressure both ways. */
class BodyPump {
  readonly #onData = (chunk: Buffer): void => this.#write(chunk);
  readonly #onEnd = (): void => this.#end();
  readonly #onError = (err: unknown): void => this.#fail(err);
  readonly #onClose = (): void => {
    if (!this.#ended) this.#fail(new Error('The request body closed before its end'));
  };
  readonly #onDrain = (): void => {
    this.conn.uploadStalled(false);
    this.body.resume();
  };
  #ended = false;

  constructor(
    readonly conn: Connection,
    readonly body: Readable,
    readonly chunked: boolean,
  ) {
    body.on('data', this.#onData);
    body.on('end', this.#onEnd);
    body.on('error', this.#onError);
    body.on('close', this.#onClose);
    conn.socket.on('drain', this.#onDrain);
  }

  stop(): void {
    this.#ended = true;
    const { body } = this;
    body.off('data', this.#onData);
    body.off('end', this.#onEnd);
    body.off('error', this.#onError);
    body.off('close', this.#onClose);
    this.conn.socket.off('drain', this.#onDrain);
  }

  #write(chunk: Buffer): void {
    const socket = this.conn.socket;
    let ok: boolean;
    if (this.chunked) {
      if (chunk.length === 0) return; // a zero-size chunk would end the body
      socket.cork();
      socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
      socket.write(chunk);
      ok = socket.write('\r\n', 'latin1');
      socket.uncork();
    } else {
      ok = socket.write(chunk);
    }
    if (!ok) {
      this.body.pause();
      this.conn.uploadStalled(true);
    }
  }

  #end(): void {
    if (this.chunked) this.conn.socket.write('0\r\n\r\n', 'latin1');
    this.stop();
    this.conn.requestBodyDone();
  }

  #fail(err: unknown): void {
    if (this.#ended) return;
    this.stop();
    this.conn.requestBodyFailed(err);
  }
}
