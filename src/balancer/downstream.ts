/**
 * The client side of the balancer, for the requests that make up almost all traffic: it reads
 * request heads straight off the accepted socket and writes responses straight back, with no
 * IncomingMessage, ServerResponse or stream per request (Node's HTTP server spent about a third
 * of the balancer's CPU per request on those; see docs/benchmarks.md).
 *
 * It takes only what it fully understands: HTTP/1.1, a common method, an origin-form target of
 * RFC 3986 characters, exactly one Host, no body (no Content-Length but 0, no
 * Transfer-Encoding), no Upgrade, no Expect, a head that passes the same strict field-line
 * expression as the upstream parser and fits `maxHeaderBytes` and `maxHeaderCount`. Anything else, well-formed or not,
 * hands the connection to Node's HTTP server with the unread bytes put back, and it stays there:
 * Node's parser then serves or refuses it exactly as it did before this path existed (request
 * bodies, upgrades, 100-continue, HTTP/1.0, smuggling attempts, oversized heads). The hand-over
 * happens only between exchanges, when no response is in flight.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Core } from './core.js';
import { proxyFastRequest } from './proxy.js';
import { FieldLineCursor, fieldLines, hasToken } from './upstream/parser.js';

/** What the proxy reads of a client request (an IncomingMessage has all of it too). */
export interface ClientRequest {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  readonly rawHeaders: string[];
  readonly headers: { readonly host?: string | undefined; readonly cookie?: string | undefined };
  readonly httpVersionMinor: number;
  readonly socket: { readonly remoteAddress?: string | undefined };
  /** The whole request (body included) was read. */
  readonly complete: boolean;
  readonly errored: unknown;
}

/** What the proxy does with a client response (a ServerResponse does all of it too). */
export interface ClientResponse {
  /** True once `writeHead` was called: the response is committed. */
  readonly headersSent: boolean;
  readonly writableFinished: boolean;
  readonly destroyed: boolean;
  writeHead(
    status: number,
    reason: string | undefined,
    headers: string[] | Record<string, string | number>,
  ): unknown;
  write(chunk: Buffer): boolean;
  end(chunk?: Buffer | string): unknown;
  destroy(error?: Error): unknown;
  once(event: 'drain', listener: () => void): unknown;
  on(event: 'close', listener: () => void): unknown;
}

export interface ClientSideSettings {
  maxHeaderBytes: number;
  /** More header fields than this go to Node, whose answer is a 431 (request-head.ts). */
  maxHeaderCount: number;
  /** An idle keep-alive connection is closed after this long (Node's `keepAliveTimeout`). */
  keepAliveMs: number;
  /** A request head must arrive whole within this long (Node's `headersTimeout`). */
  headersMs: number;
  /** A client that takes nothing queued for it for this long is cut off. */
  stallMs: number;
}

/**
 * A request head this path serves: method, origin-form target, HTTP/1.1, field lines. The
 * methods are those Node's parser knows that are common without a body; others go to Node.
 */
const servedHead = new RegExp(
  `^(?:GET|HEAD|DELETE|OPTIONS|POST|PUT|PATCH) \\/[A-Za-z0-9\\-._~:/?[\\]@!$&'()*+,;=%]* HTTP\\/1\\.1${fieldLines}$`,
);

/** The accepted sockets of one balancer. */
export class ClientSide {
  readonly #connections = new Set<ClientConnection>();
  /**
   * The keep-alive signal of a response, as Node's server writes it (timeout=0 for a keep-alive
   * under a second: the client should not reuse the connection).
   */
  readonly keepAliveLines: string;

  constructor(
    readonly core: Core,
    readonly settings: ClientSideSettings,
  ) {
    this.keepAliveLines = `Connection: keep-alive\r\nKeep-Alive: timeout=${Math.floor(settings.keepAliveMs / 1000)}\r\n`;
  }

  accept(socket: Socket): void {
    this.#connections.add(new ClientConnection(this, socket));
  }

  /** @internal */
  forget(conn: ClientConnection): void {
    this.#connections.delete(conn);
  }

  /** Closes connections with no request in flight (shutdown: Node's `closeIdleConnections`). */
  closeIdle(): void {
    for (const conn of this.#connections) if (conn.idle) conn.destroy();
  }

  destroyAll(): void {
    for (const conn of this.#connections) conn.destroy();
  }
}

const NO_TIMER = 0;
const KEEP_ALIVE = 1;
const HEADERS = 2;

/** One client connection while this path serves it. */
class ClientConnection {
  readonly #side: ClientSide;
  readonly #socket: Socket;
  /** Bytes read and not yet parsed: a partial head, or a pipelined request. */
  #pending: Buffer | undefined;
  /**
   * Room that a head arriving in pieces grows into (doubling), so a head trickled a byte at a
   * time costs linear work, not a copy of everything so far per byte (slowloris).
   */
  #room: Buffer | undefined;
  /** Bytes at the start of `#pending` known not to hold the end of the head. */
  #scanned = 0;
  #response: FastResponse | undefined;
  #timerKind = NO_TIMER;
  #keepAliveTimer: NodeJS.Timeout | undefined;
  #headersTimer: NodeJS.Timeout | undefined;
  /** The last response is written but still queued for a slow client. */
  #flushing = false;
  /** A response said the connection ends: nothing more is read from it. */
  #ending = false;
  closed = false;

  constructor(side: ClientSide, socket: Socket) {
    this.#side = side;
    this.#socket = socket;
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('error', this.#onError);
    socket.on('close', this.#onClose);
    socket.on('drain', this.#onDrain);
    socket.on('timeout', this.#onStall);
    socket.setTimeout(side.settings.stallMs);
    this.#arm(HEADERS);
  }

  /** No request in flight, nothing queued for the client, no partial head (shutdown closes it). */
  get idle(): boolean {
    return this.#response === undefined && !this.#flushing && this.#pending === undefined;
  }

  get socket(): Socket {
    return this.#socket;
  }

  get side(): ClientSide {
    return this.#side;
  }

  destroy(): void {
    this.#socket.destroy();
  }

  readonly #onData = (chunk: Buffer): void => {
    // After a response that closes the connection, later requests are not served (RFC 9112
    // §9.6; Node's parser refuses them too).
    if (this.#ending) return;
    this.#append(chunk);
    // A pipelined request waits, unread, until the response in flight is done.
    if (this.#response) this.#socket.pause();
    else this.#parse();
  };

  #append(chunk: Buffer): void {
    const pending = this.#pending;
    if (!pending) {
      this.#pending = chunk;
      this.#scanned = 0;
      return;
    }
    const length = pending.length + chunk.length;
    let room = this.#room;
    // Grow in place when `pending` is the start of the room and the chunk fits after it.
    if (
      !room ||
      room.length < length ||
      pending.buffer !== room.buffer ||
      pending.byteOffset !== room.byteOffset
    ) {
      room = Buffer.allocUnsafe(Math.max(length, 2 * pending.length, 1024));
      pending.copy(room);
      this.#room = room;
    }
    chunk.copy(room, pending.length);
    this.#pending = room.subarray(0, length);
  }

  /**
   * The socket saw no traffic for `stallMs` (Node's socket timeout): a client that takes none of
   * what is queued for it is cut off (nginx `send_timeout`). An idle connection, or one waiting
   * for a server's answer, is left to its own timers.
   */
  readonly #onStall = (): void => {
    if (this.#socket.writableLength > 0) this.#socket.destroy();
  };

  /** The client ended its side: like Node's server (httpAllowHalfOpen false), end ours. */
  readonly #onEnd = (): void => {
    if (this.#socket.writable) this.#socket.end();
  };

  readonly #onError = (): void => {
    this.#socket.destroy();
  };

  readonly #onClose = (): void => {
    this.closed = true;
    clearTimeout(this.#keepAliveTimer);
    clearTimeout(this.#headersTimer);
    this.#side.forget(this);
    this.#response?.clientClosed();
  };

  readonly #onDrain = (): void => {
    this.#response?.drained();
  };

  /** The last response has left the process: from now on this is an idle keep-alive connection. */
  readonly #onFlushed = (): void => {
    if (!this.#flushing || this.#socket.destroyed) return;
    this.#flushing = false;
    if (!this.#response) this.#idleAfterResponse();
  };

  // A timer is left armed when its phase ends (re-armed with refresh(), not re-created); one that
  // fires outside its own phase does nothing.
  readonly #onKeepAliveTimer = (): void => {
    if (this.#timerKind === KEEP_ALIVE && !this.#response) this.#socket.destroy();
  };

  readonly #onHeadersTimer = (): void => {
    if (this.#timerKind === HEADERS && !this.#response) this.#socket.destroy();
  };

  #arm(kind: typeof KEEP_ALIVE | typeof HEADERS): void {
    this.#timerKind = kind;
    if (kind === KEEP_ALIVE) {
      if (this.#keepAliveTimer) this.#keepAliveTimer.refresh();
      else this.#keepAliveTimer = setTimeout(this.#onKeepAliveTimer, this.#side.settings.keepAliveMs);
    } else if (this.#headersTimer) this.#headersTimer.refresh();
    else this.#headersTimer = setTimeout(this.#onHeadersTimer, this.#side.settings.headersMs);
  }

  #parse(): void {
    const buf = this.#pending;
    if (!buf || this.closed || this.#ending) return;
    const request = readRequest(buf, this.#socket, this.#side.settings, this.#scanned);
    if (request === HAND_OVER) return void this.#handOver();
    if (request === INCOMPLETE) {
      // The end of the head is not in what arrived so far (it may start in its last 3 bytes).
      this.#scanned = Math.max(0, buf.length - 3);
      // The first bytes of a new head start its deadline.
      if (this.#timerKind !== HEADERS) this.#arm(HEADERS);
      return;
    }
    const end = request.headLength;
    this.#pending = end < buf.length ? buf.subarray(end) : undefined;
    this.#scanned = 0;
    // An idle keep-alive connection keeps no room: 10,000 of them would hold 10,000 buffers.
    this.#room = undefined;
    this.#timerKind = NO_TIMER;
    const response = new FastResponse(this, request.method === 'HEAD', request.close);
    this.#response = response;
    proxyFastRequest(this.#side.core, request, response);
  }

  /** The response is written: close, or serve the next request. */
  responseDone(response: FastResponse): void {
    if (this.#response !== response) return;
    this.#response = undefined;
    if (this.closed) return;
    const socket = this.#socket;
    if (response.closeAfter) {
      this.#ending = true;
      this.#pending = undefined;
      // Flush, then close; a client that never closes its side does not hold the socket.
      socket.end(() => socket.destroy());
      return;
    }
    if (this.#pending) {
      // A pipelined request: after the current call stack (the exchange still finishes its
      // bookkeeping), in order.
      setImmediate(() => {
        if (this.#response || this.closed) return;
        this.#parse();
        if (!this.#response && socket.isPaused()) socket.resume();
      });
      return;
    }
    // Like Node's server, the keep-alive timeout starts once the response has left: a slow
    // client still reading a large response is not cut off by it.
    if (socket.writableLength > 0) {
      this.#flushing = true;
      // Completes after everything queued before it ('drain' fires only above the high-water mark).
      socket.write(empty, this.#onFlushed);
    } else this.#idleAfterResponse();
  }

  #idleAfterResponse(): void {
    this.#arm(KEEP_ALIVE);
    if (this.#socket.isPaused()) this.#socket.resume();
  }

  /** Node's HTTP server takes the connection, with the bytes read so far put back. */
  #handOver(): void {
    const socket = this.#socket;
    const rest = this.#pending;
    this.#pending = undefined;
    this.#timerKind = NO_TIMER;
    clearTimeout(this.#keepAliveTimer);
    clearTimeout(this.#headersTimer);
    socket.removeListener('data', this.#onData);
    socket.removeListener('end', this.#onEnd);
    socket.removeListener('error', this.#onError);
    socket.removeListener('close', this.#onClose);
    socket.removeListener('drain', this.#onDrain);
    // Node's server sets its own socket timeout and listener (balancer.ts: server.timeout).
    socket.removeListener('timeout', this.#onStall);
    this.#side.forget(this);
    this.#side.core.handToNode(socket, rest);
  }
}

/** A request head this path serves, as the proxy reads it. */
export class FastRequest implements ClientRequest {
  readonly httpVersionMinor = 1;
  readonly complete = true;
  readonly errored = null;

  constructor(
    readonly method: string,
    readonly url: string,
    readonly rawHeaders: string[],
    readonly headers: { readonly host: string; readonly cookie: string | undefined },
    readonly socket: Socket,
    /** The client asked to close the connection after this exchange. */
    readonly close: boolean,
    /** Bytes of the head, its final CRLF CRLF included. */
    readonly headLength: number,
  ) {}
}

/** `readRequest`: the head is not complete yet. */
export const INCOMPLETE = 0;
/** `readRequest`: Node's server must read this connection from here on. */
export const HAND_OVER = 1;

/**
 * Decides what the client side does with the unread bytes of a connection: serve the request
 * whose head they start with, wait for more, or hand the connection to Node. Exported for the
 * differential tests against llhttp (test/balancer/fuzz-downstream.test.ts).
 */
export function readRequest(
  buf: Buffer,
  socket: Socket,
  settings: Pick<ClientSideSettings, 'maxHeaderBytes' | 'maxHeaderCount'>,
  searchFrom = 0,
): FastRequest | typeof INCOMPLETE | typeof HAND_OVER {
  const { maxHeaderBytes } = settings;
  const end = buf.indexOf('\r\n\r\n', searchFrom, 'latin1');
  if (end < 0) return buf.length >= maxHeaderBytes ? HAND_OVER : INCOMPLETE;
  // Node counts the head with its final CRLFs against maxHeaderSize; be no more lenient.
  if (end + 4 > maxHeaderBytes) return HAND_OVER;
  return readHead(buf.toString('latin1', 0, end), socket, settings.maxHeaderCount, end + 4) ?? HAND_OVER;
}

const fields = new FieldLineCursor();

/**
 * Parses a head (without its final CRLF CRLF) into a request this path serves, or returns
 * undefined to hand the connection to Node.
 */
function readHead(
  text: string,
  socket: Socket,
  maxHeaderCount: number,
  length: number,
): FastRequest | undefined {
  if (!servedHead.test(text)) return undefined;
  const sp1 = text.indexOf(' ');
  const sp2 = text.indexOf(' ', sp1 + 1);
  const method = text.slice(0, sp1);
  const url = text.slice(sp1 + 1, sp2);
  const rawHeaders: string[] = [];
  let host: string | undefined;
  let hosts = 0;
  let cookie: string | undefined;
  let connection = '';
  let lengths = 0;
  fields.reset(text, text.indexOf('\r\n', sp2));
  while (fields.next()) {
    const { name, value } = fields;
    // Only names of an interesting length are lower-cased and compared.
    const n = name.length;
    if (n === 4 || n === 6 || n === 7 || n === 10 || n === 14 || n === 16 || n === 17) {
      const lower = name.toLowerCase();
      if (lower === 'host') {
        hosts++;
        host = value;
      } else if (lower === 'cookie') {
        // Joined as Node joins them (RFC 9114 §4.2.1 style), for the sticky strategy.
        cookie = cookie === undefined ? value : `${cookie}; ${value}`;
      } else if (lower === 'connection') {
        // llhttp does not take a tab as the end of a Connection token ("close\t" keeps the
        // connection alive there): such a line goes to Node, which then decides as it does.
        if (text.slice(fields.valueStart, fields.lineEnd).includes('\t')) return undefined;
        connection = connection ? `${connection},${value.toLowerCase()}` : value.toLowerCase();
      } else if (lower === 'content-length') {
        // A body, a repeated length, or a tab around the value (Node refuses those): Node reads it.
        if (value !== '0' || lengths++ > 0 || text.slice(fields.valueStart, fields.lineEnd).includes('\t'))
          return undefined;
      } else if (
        lower === 'transfer-encoding' ||
        lower === 'upgrade' ||
        lower === 'expect' ||
        lower === 'proxy-connection' // Node's parser reads it as Connection
      ) {
        return undefined;
      }
    }
    rawHeaders.push(name, value);
  }
  if (hosts !== 1 || hasToken(connection, 'upgrade') || rawHeaders.length > maxHeaderCount * 2)
    return undefined;
  return new FastRequest(
    method,
    url,
    rawHeaders,
    { host: host!, cookie },
    socket,
    hasToken(connection, 'close'),
    length,
  );
}

let dateSecond = -1;
let dateText = '';

/** The Date header value, rebuilt once a second (as Node's server does). */
function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}

const empty = Buffer.alloc(0);

/** Bodies up to this size leave in the same buffer as the head. */
const joinLimit = 16_384;

/**
 * The response to one request this path serves. The head is built when the first body bytes
 * (or the end) arrive, so a body that arrives whole gets a Content-Length instead of chunking.
 */
class FastResponse implements ClientResponse {
  headersSent = false;
  writableFinished = false;
  destroyed = false;
  /** Close the connection after this response (client asked, server said so, or shutdown). */
  closeAfter: boolean;
  readonly #conn: ClientConnection;
  readonly #noBody: boolean;
  #status = 0;
  #reason: string | undefined;
  #headers: string[] = [];
  #headWritten = false;
  #chunked = false;
  #onDrain: (() => void) | undefined;
  #onClose: (() => void) | undefined;

  constructor(conn: ClientConnection, isHead: boolean, closeAfter: boolean) {
    this.#conn = conn;
    this.#noBody = isHead;
    this.closeAfter = closeAfter;
  }

  writeHead(
    status: number,
    reason: string | undefined,
    headers: string[] | Record<string, string | number>,
  ): this {
    this.#status = status;
    this.#reason = reason;
    if (Array.isArray(headers)) this.#headers = headers;
    else for (const name in headers) this.#headers.push(name, String(headers[name]));
    this.headersSent = true;
    return this;
  }

  write(chunk: Buffer): boolean {
    if (this.#conn.closed || this.writableFinished) return true;
    const socket = this.#conn.socket;
    let head = this.#headWritten ? '' : this.#head(-1);
    if (this.#chunked && !this.#noBody) head += `${chunk.length.toString(16)}\r\n`;
    if (head) socket.write(head, 'latin1');
    return this.#body(chunk);
  }

  end(chunk?: Buffer | string): this {
    if (this.writableFinished) return this;
    this.writableFinished = true;
    if (!this.#conn.closed) this.#finish(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    this.#conn.responseDone(this);
    return this;
  }

  destroy(): this {
    this.destroyed = true;
    this.#conn.destroy();
    return this;
  }

  once(_event: 'drain', listener: () => void): this {
    this.#onDrain = listener;
    return this;
  }

  on(_event: 'close', listener: () => void): this {
    this.#onClose = listener;
    return this;
  }

  drained(): void {
    const listener = this.#onDrain;
    this.#onDrain = undefined;
    listener?.();
  }

  clientClosed(): void {
    this.destroyed = true;
    this.#onClose?.();
  }

  #body(chunk: Buffer): boolean {
    const socket = this.#conn.socket;
    if (this.#noBody) return true;
    if (!this.#chunked) return socket.write(chunk);
    socket.write(chunk);
    return socket.write('\r\n', 'latin1');
  }

  #finish(chunk: Buffer | undefined): void {
    const socket = this.#conn.socket;
    const body = this.#noBody || chunk === undefined || chunk.length === 0 ? undefined : chunk;
    if (!this.#headWritten) {
      const head = this.#head(body?.length ?? 0);
      if (body === undefined) socket.write(head, 'latin1');
      else if (body.length <= joinLimit) {
        // Head and body in one buffer: one write, one syscall.
        const out = Buffer.allocUnsafe(head.length + body.length);
        out.write(head, 0, 'latin1');
        body.copy(out, head.length);
        socket.write(out);
      } else {
        socket.cork();
        socket.write(head, 'latin1');
        socket.write(body);
        socket.uncork();
      }
      return;
    }
    if (this.#chunked) {
      if (body) {
        socket.write(`${body.length.toString(16)}\r\n`, 'latin1');
        socket.write(body);
      }
      socket.write(body ? '\r\n0\r\n\r\n' : '0\r\n\r\n', 'latin1');
    } else if (body) socket.write(body);
  }

  /**
   * The head, with what Node's server would add: Date when missing, the keep-alive or close
   * signal, and framing: the server's Content-Length, else `length` when the whole body is
   * known (-1: not known, chunked).
   */
  #head(length: number): string {
    this.#headWritten = true;
    const status = this.#status;
    const headers = this.#headers;
    let head = `HTTP/1.1 ${status} ${this.#reason ?? STATUS_CODES[status] ?? ''}\r\n`;
    let hasLength = false;
    let hasDate = false;
    let hasConnection = false;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!;
      const n = name.length;
      if (n === 4 || n === 10 || n === 14) {
        const lower = name.toLowerCase();
        if (lower === 'content-length') hasLength = true;
        else if (lower === 'date') hasDate = true;
        else if (lower === 'connection') {
          hasConnection = true;
          if (hasToken(headers[i + 1]!.toLowerCase(), 'close')) this.closeAfter = true;
        }
      }
      head += `${name}: ${headers[i + 1]}\r\n`;
    }
    if (!hasDate) head += `Date: ${httpDate()}\r\n`;
    const side = this.#conn.side;
    if (this.#conn.closed || side.core.closing) this.closeAfter = true;
    if (!hasConnection) head += this.closeAfter ? 'Connection: close\r\n' : side.keepAliveLines;
    const bodiless = this.#noBody || status === 204 || status === 304 || status < 200;
    if (!bodiless && !hasLength) {
      if (length >= 0) head += `Content-Length: ${length}\r\n`;
      else {
        head += 'Transfer-Encoding: chunked\r\n';
        this.#chunked = true;
      }
    }
    return `${head}\r\n`;
  }
}
