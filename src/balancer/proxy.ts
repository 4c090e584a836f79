/**
 * The request path: pick a server, stream the request to it through its upstream pool, stream
 * the response back, retry on another server when that is safe (retry.ts).
 *
 * An attempt is an upstream handler (onConnect/onHeaders/onData/onComplete/onError, see
 * upstream/connection.ts): no intermediate Readable, body chunks go straight to the client.
 * `onConnect` is the moment the request goes on the wire: a failure before it is a failure to
 * reach the server, after it the server may have seen the request.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Span, Tracer } from '../observe/otel.js';
import type { Backend } from './backend.js';
import { BodyLimit } from './body-limit.js';
import { type Core, pickBackend } from './core.js';
import type { ClientRequest, ClientResponse } from './downstream.js';
import { type BalancerError, balancerError } from './errors.js';
import { requestChannel, retryChannel } from './events.js';
import { classifyFailure, countsAgainstServer, isConnectFailure } from './failures.js';
import { buildResponseHeaders, buildUpstreamHeaders } from './headers.js';
import type { LegacyMark } from './legacy.js';
import { atEventBoundary, type LongLived } from './long-lived.js';
import { refuseHead } from './request-head.js';
import { sendError } from './responses.js';
import type { PickContext } from './strategies/index.js';
import { balancerTracer, endClientSpan, endServerSpan, startClientSpan, startServerSpan } from './tracing.js';
import { UpstreamError, type UpstreamHandler } from './upstream/pool.js';

/** Statuses that say the server itself is in trouble (passive ejection counts them). */
const gatewayTrouble = new Set([502, 503, 504]);

/** One client request across its attempts; also the context its strategy picks with. */
class Exchange implements PickContext, LegacyMark {
  readonly startedAt = performance.now();
  attempts = 0;
  retriesHeld = 0;
  /** Sent once more after meeting a stale keep-alive connection (retry.ts). */
  staleRetried = false;
  tried: Set<Backend> | undefined;
  done = false;
  clientGone = false;
  /** The client's request turned out malformed after it started (its body): answer this. */
  refused: BalancerError | undefined;
  current: Attempt | undefined;
  lastError: BalancerError | undefined;
  /** Set by the legacy unit while a server is retiring (legacy.ts). */
  legacyValue: string | undefined = undefined;
  stalePin = false;
  /** The server span, when the app traces (tracing.ts). */
  span: Span | undefined;
  tracer: Tracer | undefined;
  readonly members: readonly Backend[];
  readonly now: number;
  readonly seqOf: (backend: Backend) => number;

  constructor(
    readonly core: Core,
    readonly req: ClientRequest,
    readonly res: ClientResponse,
    readonly headers: string[],
    readonly body: Readable | null,
    readonly clientIp: string,
  ) {
    this.members = core.members.all();
    this.now = core.settings.clock.now();
    this.seqOf = core.seqOf;
  }

  /** The client went away mid-exchange: stop the upstream request so the server is freed. */
  onClientClose(): void {
    if (this.done) return;
    this.clientGone = true;
    this.current?.abort?.(new Error('client closed the connection'));
  }

  /** Stops the upstream request and answers `error` (node-side.ts: a body Node could not read). */
  refuse(error: BalancerError): void {
    if (this.done) return;
    this.refused = error;
    const abort = this.current?.abort;
    // Not on the wire yet: onConnect will abort it; the answer goes now.
    if (abort) abort(error);
    else finish(this, undefined, error);
  }
}

/** Exchanges of the requests Node's server read, by response (refuseRunning). */
const nodeExchanges = new WeakMap<ServerResponse, Exchange>();

/**
 * Refuses the request of `res` while its exchange runs: the upstream request is stopped and the
 * client gets `error` (or, when its response already started, a cut connection). False when
 * no exchange runs for it.
 */
export function refuseRunning(res: ServerResponse, error: BalancerError): boolean {
  const exchange = nodeExchanges.get(res);
  if (!exchange || exchange.done) return false;
  exchange.refuse(error);
  return true;
}

/** Handles one client request read by Node's HTTP server. */
export function proxyRequest(core: Core, req: IncomingMessage, res: ServerResponse): void {
  if (core.closing)
    return void sendError(res, balancerError('UNPINNED_ERR_LB_SHUTTING_DOWN', 'Balancer closing'), true);
  // RFC 9112 §3.2: an HTTP/1.1 request without Host is answered 400.
  if (req.headers.host === undefined && req.httpVersionMinor === 1) {
    return void sendError(
      res,
      balancerError('UNPINNED_ERR_LB_BAD_REQUEST', 'HTTP/1.1 request without Host'),
      true,
    );
  }
  const refused = refuseHead(req, core.settings.maxHeaderCount);
  if (refused) return void sendError(res, refused, true);
  if (req.url === undefined || req.url[0] !== '/') {
    return void sendError(
      res,
      balancerError('UNPINNED_ERR_LB_BAD_REQUEST', 'Only origin-form request targets are accepted'),
      true,
    );
  }
  const body = requestBody(core, req, res);
  if (body === false) return;
  nodeExchanges.set(res, startExchange(core, req, res, body));
}

/**
 * Handles one request read by the client side's own reader (downstream.ts), which has already
 * checked its Host and target and takes only requests without a body.
 */
export function proxyFastRequest(core: Core, req: ClientRequest, res: ClientResponse): void {
  if (core.closing)
    return void sendError(res, balancerError('UNPINNED_ERR_LB_SHUTTING_DOWN', 'Balancer closing'), true);
  startExchange(core, req, res, null);
}

function startExchange(core: Core, req: ClientRequest, res: ClientResponse, body: Readable | null): Exchange {
  const { headers, clientIp } = buildUpstreamHeaders(req, core.forwarding);
  const exchange = new Exchange(core, req, res, headers, body, clientIp);
  const tracer = balancerTracer();
  if (tracer) {
    exchange.tracer = tracer;
    exchange.span = startServerSpan(tracer, req, headers);
  }
  core.active++;
  core.retry.active++;
  res.on('close', () => exchange.onClientClose());
  startAttempt(exchange);
  return exchange;
}

/** The body stream to forward, null for none, false when the request was already answered. */
function requestBody(core: Core, req: IncomingMessage, res: ServerResponse): Readable | null | false {
  const length = req.headers['content-length'];
  const chunked = req.headers['transfer-encoding'] !== undefined;
  if (!chunked && (length === undefined || length === '0')) return null;
  const max = core.settings.maxBodyBytes;
  if (max === null) return req;
  if (!chunked && Number(length) > max) {
    // Refuse before reading anything; close, since the unread body is still on the connection.
    sendError(
      res,
      balancerError('UNPINNED_ERR_LB_BODY_TOO_LARGE', `Content-Length ${length} > ${max}`),
      true,
    );
    return false;
  }
  return req.pipe(new BodyLimit(max));
}

function startAttempt(ex: Exchange): void {
  const { core } = ex;
  // Only while a server is retiring does a request's Cookie header matter here (legacy.ts).
  const legacy = core.legacy.active
    ? core.legacy.route(ex.req.headers.cookie, ex.members, ex.tried, ex)
    : undefined;
  const backend = legacy ?? pickBackend(core, ex);
  if (!backend) {
    finish(ex, undefined, ex.lastError ?? balancerError('UNPINNED_ERR_LB_NO_BACKEND', 'No server available'));
    return;
  }
  ex.attempts++;
  backend.begin();
  const attempt = new Attempt(ex, backend);
  ex.current = attempt;
  let headers = ex.headers;
  if (ex.span) {
    const traced = startClientSpan(ex.tracer!, ex.span, ex.req, backend, ex.attempts, headers);
    attempt.span = traced.span;
    headers = traced.headers;
  }
  backend.pool.dispatch({ path: ex.req.url!, method: ex.req.method!, headers, body: ex.body }, attempt);
}

/** One try against one server. */
class Attempt implements UpstreamHandler {
  sent = false;
  abort: ((err?: Error) => void) | undefined;
  status = 0;
  /** This attempt's client span, when tracing. */
  span: Span | undefined;
  #resume: (() => void) | undefined;
  #ended = false;
  #retryPlanned = false;
  #responseEnded = false;
  /** Set for an event stream: how the drain ends it, and the last bytes sent (for the boundary). */
  #stream: LongLived | undefined;
  #tail = '';
  #endedByDrain = false;

  constructor(
    readonly ex: Exchange,
    readonly backend: Backend,
  ) {}

  onConnect(abort: (err?: Error) => void): void {
    this.sent = true;
    this.abort = abort;
    if (this.backend.unreachable) this.ex.core.members.setReachable(this.backend, true);
    if (this.ex.clientGone) abort(new Error('client closed the connection'));
    else if (this.ex.refused) abort(this.ex.refused);
  }

  onHeaders(statusCode: number, rawHeaders: string[], resume: () => void, statusText: string): boolean {
    // (1xx interim responses never get here: 100 Continue was already sent to the client by
    // Node, and 103 Early Hints are optional.)
    const { ex, backend } = this;
    const { core, res } = ex;
    if (this.span) this.span.setAttribute('http.response.status_code', statusCode);
    if (gatewayTrouble.has(statusCode)) {
      core.members.recordFailure(backend);
      if (core.retry.settings.onStatus.includes(statusCode) && this.#mayRetry('sent')) {
        // Drop this response and try elsewhere (only idempotent, bodiless, configured: retry.ts).
        this.#retryPlanned = true;
        this.abort?.(
          balancerError('UNPINNED_ERR_LB_BACKEND_FAILED', `Server ${backend.id} answered ${statusCode}`),
        );
        return false;
      }
    } else if (backend.consecutiveFailures > 0) {
      core.members.recordSuccess(backend);
    }
    this.status = statusCode;
    let extra = core.strategy.responseHeaders?.(backend, ex);
    if (core.legacy.active) extra = core.legacy.onResponse(backend, rawHeaders, ex, extra);
    const headers = buildResponseHeaders(rawHeaders, extra);
    const servedBy = core.settings.servedByHeader;
    if (servedBy) headers.push(servedBy, backend.id);
    // A draining server's clients, and everyone during shutdown, get their keep-alive
    // connection closed after this response, so they reconnect and rebalance elsewhere.
    if (backend.draining || core.closing) headers.push('connection', 'close');
    res.writeHead(statusCode, statusText || undefined, headers);
    this.#resume = resume;
    if (isEventStream(rawHeaders)) this.#holdStream();
    return true;
  }

  /** An event stream lives until its server goes: the drain may end it (long-lived.ts). */
  #holdStream(): void {
    const stream: LongLived = {
      end: (retryMs) => {
        const { res } = this.ex;
        if (this.#responseEnded || res.writableFinished || res.destroyed) return;
        this.#endedByDrain = true;
        this.#responseEnded = true;
        if (atEventBoundary(this.#tail)) res.write(Buffer.from(`retry: ${retryMs}\n\n`));
        res.end();
        this.abort?.(new Error('event stream ended by a drain'));
      },
    };
    this.#stream = stream;
    this.backend.longLived.add(stream);
  }

  onData(chunk: Buffer, last: boolean): boolean {
    if (this.#endedByDrain) return true;
    if (this.#stream)
      this.#tail = (this.#tail + chunk.toString('latin1', Math.max(0, chunk.length - 4))).slice(-4);
    if (last) {
      // The whole (rest of the) body: head, body and end leave in one write.
      this.#responseEnded = true;
      this.ex.res.end(chunk);
      return true;
    }
    if (this.ex.res.write(chunk)) return true;
    // Backpressure: the pool stops reading from the server until the client drains.
    this.ex.res.once('drain', this.#resume!);
    return false;
  }

  onComplete(): void {
    if (!this.#responseEnded) this.ex.res.end();
    this.#end(undefined);
    finish(this.ex, this.backend, undefined);
  }

  onError(err: Error): void {
    const { ex, backend } = this;
    this.#end(err);
    if (this.#endedByDrain) return void finish(ex, backend, undefined);
    if (ex.refused) return void finish(ex, backend, ex.refused);
    // A client that went away (or broke its upload) is not the server's failure.
    if (ex.clientGone || ex.req.errored) {
      ex.clientGone = true;
      return void finish(ex, backend, undefined);
    }
    const error = classifyFailure(err, this.sent, backend.id);
    ex.lastError = error;
    if (this.#retryPlanned) return void startAttempt(ex);
    if (err instanceof UpstreamError && err.stale && this.#mayRetryStale()) {
      // Not the server's fault and not counted as one: its idle connections went stale.
      backend.pool.purgeIdle();
      return void startAttempt(ex);
    }
    if (countsAgainstServer(error)) ex.core.members.recordFailure(backend);
    if (isConnectFailure(error)) ex.core.members.setReachable(backend, false);
    if (!ex.res.headersSent && this.#mayRetry(this.sent ? 'sent' : 'not-sent')) {
      if (retryChannel.hasSubscribers) {
        retryChannel.publish({
          from: backend.id,
          method: ex.req.method,
          url: ex.req.url,
          attempt: ex.attempts,
          error,
        });
      }
      startAttempt(ex);
      return;
    }
    finish(ex, backend, error);
  }

  #end(error: Error | undefined): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#stream) this.backend.longLived.delete(this.#stream);
    this.backend.end();
    if (this.span) endClientSpan(this.span, this.status, error);
  }

  #mayRetryStale(): boolean {
    const { ex } = this;
    if (ex.staleRetried || ex.res.headersSent) return false;
    if (!ex.core.retry.allowsStale(ex.req.method!, ex.body !== null)) return false;
    ex.staleRetried = true;
    ex.attempts--; // a resend on a fresh connection, not an attempt on another server
    ex.core.metrics.retries++;
    return true;
  }

  #mayRetry(stage: 'sent' | 'not-sent'): boolean {
    const { ex } = this;
    const retry = ex.core.retry;
    if (!retry.allows(stage, ex.req.method!, ex.body !== null, ex.attempts) || !this.#hasOther())
      return false;
    if (!retry.acquire()) {
      ex.core.metrics.retryBudgetExhausted++;
      return false;
    }
    ex.retriesHeld++;
    ex.core.metrics.retries++;
    return true;
  }

  /** Records this server as tried and tells whether another candidate remains. */
  #hasOther(): boolean {
    const { ex } = this;
    ex.tried ??= new Set();
    ex.tried.add(this.backend);
    const tried = ex.tried;
    return ex.core.members.candidates().some((b) => !tried.has(b));
  }
}

function isEventStream(rawHeaders: string[]): boolean {
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() === 'content-type')
      return rawHeaders[i + 1]!.toLowerCase().startsWith('text/event-stream');
  }
  return false;
}

function finish(ex: Exchange, backend: Backend | undefined, error: BalancerError | undefined): void {
  if (ex.done) return;
  ex.done = true;
  const { core, res } = ex;
  core.retry.active--;
  for (; ex.retriesHeld > 0; ex.retriesHeld--) core.retry.release();
  const serverId = backend?.id ?? '';
  let status = ex.current?.status ?? 0;
  if (error) {
    core.metrics.error(serverId, error.code);
    // Close the connection when part of the request body is still unread (413 mid-upload),
    // rather than reading the rest of an upload nobody wants.
    if (!ex.clientGone) sendError(res, error, core.closing || !ex.req.complete);
    if (status === 0) status = error.statusCode;
  }
  // nginx's 499: the client closed the connection before the response was complete.
  if (ex.clientGone && !res.writableFinished) status = 499;
  const ms = performance.now() - ex.startedAt;
  core.metrics.observe(serverId, status, ms / 1000, ex.attempts);
  if (ex.span) endServerSpan(ex.span, status, serverId, ex.attempts, error?.code);
  // Checked here rather than through publish(): no closure is built on the hot path.
  if (requestChannel.hasSubscribers) {
    requestChannel.publish({
      server: serverId || undefined,
      method: ex.req.method,
      url: ex.req.url,
      status,
      ms,
      error: error?.code,
    });
  }
  core.active--;
  if (core.active === 0) core.onIdle?.();
}
