/**
 * OpenTelemetry spans for proxied requests, after the HTTP semantic conventions
 * (https://opentelemetry.io/docs/specs/semconv/http/http-spans/): a SERVER span per client
 * request, continuing the trace of an incoming `traceparent`, and a CLIENT span per attempt,
 * whose context goes to the app server in `traceparent`/`tracestate` (W3C Trace Context,
 * https://www.w3.org/TR/trace-context/). Retries are attempts with `http.request.resend_count`.
 *
 * Only when the app registered a tracer provider (src/observe/otel.ts); otherwise the proxy
 * never calls in here. The query string is left out of every attribute (`url.path` only): it is
 * where tokens travel in links. Headers, cookies and bodies never become attributes.
 */
import { activeTracer, failSpan, otelApi, type Span, type Tracer } from '../observe/otel.js';
import type { Backend } from './backend.js';
import type { ClientRequest } from './downstream.js';

/** Reads a flat [name, value, ...] header list with lower-case names (headers.ts). */
const flatGetter = {
  keys: (carrier: string[]) => carrier.filter((_, i) => i % 2 === 0),
  get: (carrier: string[], key: string) => {
    for (let i = 0; i < carrier.length; i += 2) if (carrier[i] === key) return carrier[i + 1];
    return undefined;
  },
};

export function balancerTracer(): Tracer | undefined {
  return activeTracer('unpinned.balancer');
}

function pathOf(target: string): string {
  const q = target.indexOf('?');
  return q < 0 ? target : target.slice(0, q);
}

/**
 * Starts the server span of a client request and takes the client's trace headers out of
 * `headers` (each attempt sends its own). Returns undefined when not tracing.
 */
export function startServerSpan(tracer: Tracer, req: ClientRequest, headers: string[]): Span {
  const api = otelApi()!;
  const parent = api.propagation.extract(api.context.active(), headers, flatGetter);
  for (let i = headers.length - 2; i >= 0; i -= 2) {
    if (headers[i] === 'traceparent' || headers[i] === 'tracestate') headers.splice(i, 2);
  }
  const method = req.method ?? 'GET';
  const host = req.headers.host ?? '';
  const colon = host.lastIndexOf(':');
  return tracer.startSpan(
    method,
    {
      kind: api.SpanKind.SERVER,
      attributes: {
        'http.request.method': method,
        'url.path': pathOf(req.url ?? '/'),
        'url.scheme': 'http',
        'server.address': colon > 0 ? host.slice(0, colon) : host,
        ...(colon > 0 ? { 'server.port': Number(host.slice(colon + 1)) } : {}),
        'network.protocol.version': `1.${req.httpVersionMinor}`,
        ...(req.socket.remoteAddress ? { 'client.address': req.socket.remoteAddress } : {}),
      },
    },
    parent,
  );
}

/** Starts the client span of one attempt; returns it and the headers to send (with its context). */
export function startClientSpan(
  tracer: Tracer,
  server: Span,
  req: ClientRequest,
  backend: Backend,
  attempt: number,
  headers: string[],
): { span: Span; headers: string[] } {
  const api = otelApi()!;
  const target = new URL(backend.url);
  const method = req.method ?? 'GET';
  const parent = api.trace.setSpan(api.context.active(), server);
  const span = tracer.startSpan(
    method,
    {
      kind: api.SpanKind.CLIENT,
      attributes: {
        'http.request.method': method,
        'server.address': target.hostname,
        'server.port': Number(target.port || 80),
        'url.full': `${target.origin}${pathOf(req.url ?? '/')}`,
        'unpinned.lb.server': backend.id,
        ...(attempt > 1 ? { 'http.request.resend_count': attempt - 1 } : {}),
      },
    },
    parent,
  );
  const out = headers.slice();
  api.propagation.inject(api.trace.setSpan(parent, span), out, {
    set: (carrier: string[], key: string, value: string) => void carrier.push(key, value),
  });
  return { span, headers: out };
}

/** Ends an attempt's client span with the server's status, or the failure's code. */
export function endClientSpan(span: Span, status: number, error: unknown): void {
  if (status > 0) span.setAttribute('http.response.status_code', status);
  if (error) failSpan(span, error);
  else if (status >= 500) {
    span.setAttribute('error.type', String(status));
    span.setStatus({ code: 2 });
  }
  span.end();
}

/** Ends the server span: the status sent, the server that answered and the retries taken. */
export function endServerSpan(
  span: Span,
  status: number,
  serverId: string,
  attempts: number,
  errorCode: string | undefined,
): void {
  span.setAttribute('http.response.status_code', status);
  if (serverId) span.setAttribute('unpinned.lb.server', serverId);
  span.setAttribute('unpinned.lb.attempts', attempts);
  span.setAttribute('unpinned.lb.retries', Math.max(0, attempts - 1));
  // Server spans are errors for 5xx only (a 4xx is the client's, semconv "Status").
  if (errorCode) span.setAttribute('error.type', errorCode);
  if (status >= 500) {
    if (!errorCode) span.setAttribute('error.type', String(status));
    span.setStatus({ code: 2 });
  }
  span.end();
}
