/**
 * Every error the balancer raises or answers with. Users match on `err.code`, which is stable
 * and never reused; `docs/errors.md` (section "Balancer") lists the same codes and a test keeps
 * the two in step. Codes carry an `LB_` infix so they can never collide with the session
 * library's codes.
 */

export interface BalancerErrorOptions {
  cause?: unknown;
  statusCode?: number;
}

/**
 * The error type of `unpinned/balancer`.
 *
 * @example
 * try { balancer.drain('nope'); } catch (err) {
 *   if (err instanceof BalancerError && err.code === 'UNPINNED_ERR_LB_UNKNOWN_BACKEND') { ... }
 * }
 */
export class BalancerError extends Error {
  readonly code: BalancerErrorCode;
  /** HTTP status the balancer answers with when this error ends a request. */
  readonly statusCode: number;

  constructor(code: BalancerErrorCode, message: string, options: BalancerErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BalancerError';
    this.code = code;
    this.statusCode = options.statusCode ?? 500;
  }
}

/** Code → what it means and what to do. The single source of truth for docs/errors.md. */
export const balancerErrorCodes = {
  UNPINNED_ERR_LB_NO_BACKEND:
    'No server can take the request: every server is down, ejected, draining or removed (answered 503 with Retry-After). Start or undrain a server, or check the health-check path.',
  UNPINNED_ERR_LB_BACKEND_UNREACHABLE:
    'Every attempt to connect to a server failed (refused, reset before the request was written) and the attempts or the retry budget ran out (answered 502). Check that the servers listen on the configured addresses.',
  UNPINNED_ERR_LB_BACKEND_FAILED:
    'The server accepted the request but closed or reset the connection, or sent an invalid response, before the response was complete (answered 502 if nothing was sent yet; otherwise the client connection is cut). The request was not replayed unless it was idempotent and idempotent retries are configured. Check the server logs.',
  UNPINNED_ERR_LB_CONNECT_TIMEOUT:
    'Connecting to a server took longer than `timeouts.connectMs` on every attempt (answered 504). Check the server, or raise the timeout.',
  UNPINNED_ERR_LB_HEADERS_TIMEOUT:
    'A server did not send response headers within `timeouts.headersMs` (answered 504). The handler is too slow or stuck: fix it, or raise the timeout.',
  UNPINNED_ERR_LB_IDLE_TIMEOUT:
    'A server went silent for longer than `timeouts.idleMs` in the middle of a response body (answered 504 if nothing was sent yet; otherwise the client connection is cut). Raise the timeout for slow streams.',
  UNPINNED_ERR_LB_BODY_TOO_LARGE:
    'The request body is larger than `limits.maxBodyBytes` (answered 413). Send less, or raise the limit.',
  UNPINNED_ERR_LB_HEADERS_TOO_LARGE:
    'The request headers are larger than `limits.maxHeaderBytes`, or more than `limits.maxHeaderCount` header fields (answered 431, never forwarded in part). Send fewer or smaller cookies/headers, or raise the limit.',
  UNPINNED_ERR_LB_BAD_REQUEST:
    'The request is malformed HTTP, for example conflicting Content-Length and Transfer-Encoding (a request smuggling attempt). It was answered 400 and never forwarded. Fix the client.',
  UNPINNED_ERR_LB_UNSUPPORTED_CODING:
    'The request uses a transfer coding other than chunked (for example `Transfer-Encoding: gzip, chunked`); the balancer would lose it when it re-frames the body, so it answers 501 and forwards nothing. Send the body with `Content-Encoding` instead, or plain chunked.',
  UNPINNED_ERR_LB_CLIENT_TIMEOUT:
    'The client sent part of a request body, then nothing for `timeouts.clientBodyMs` (answered 408, the upload to the server stopped and the connection closed). Send the body without long pauses, or raise the timeout for slow uploads.',
  UNPINNED_ERR_LB_SHUTTING_DOWN:
    'The balancer is shutting down and takes no new requests (answered 503). Retry against another balancer instance.',
  UNPINNED_ERR_LB_UPGRADE_FAILED:
    'A protocol upgrade (WebSocket) could not be relayed: no server, or the server refused or failed the upgrade (answered 502/503). Check that the server accepts WebSocket on that path.',
  UNPINNED_ERR_LB_INVALID_OPTION:
    'A balancer option, CLI flag or config-file field is invalid; the message names it and what it accepts.',
  UNPINNED_ERR_LB_UNKNOWN_BACKEND:
    'No server with that id or URL is configured (admin API answers 404). List servers with GET /servers and use an id from there.',
  UNPINNED_ERR_LB_DUPLICATE_BACKEND:
    'A server with that URL or id is already configured (admin API answers 409). Remove it first, or use another id.',
  UNPINNED_ERR_LB_UNKNOWN_STRATEGY:
    'The strategy name is not one of round-robin, least-connections, random, p2c, sticky-cookie, ip-hash (admin API answers 400).',
  UNPINNED_ERR_LB_UNAUTHORIZED:
    'The admin API needs `Authorization: Bearer <token>` with the configured token (answered 401). Pass the token given to `--admin-token`.',
  UNPINNED_ERR_LB_FORBIDDEN:
    'The admin API refused a request that a web page could have sent: without a token, a Host header that is not an IP address or `localhost` (DNS rebinding, answered 421); a state-changing request whose `Origin` or `Sec-Fetch-Site` names another origin (403); a body not declared `Content-Type: application/json` (415). Call it from curl, a script or the CLI at http://127.0.0.1:<port>, with a JSON content type.',
  UNPINNED_ERR_LB_RETIRING:
    'Legacy-affinity options (the legacy cookie, its idle window, the table size) were changed while a server is retiring (admin API answers 409): they decide which sessions are bound to it. Wait until it is retired, or remove it first.',
} as const;

export type BalancerErrorCode = keyof typeof balancerErrorCodes;

const statusOf: Partial<Record<BalancerErrorCode, number>> = {
  UNPINNED_ERR_LB_NO_BACKEND: 503,
  UNPINNED_ERR_LB_BACKEND_UNREACHABLE: 502,
  UNPINNED_ERR_LB_BACKEND_FAILED: 502,
  UNPINNED_ERR_LB_CONNECT_TIMEOUT: 504,
  UNPINNED_ERR_LB_HEADERS_TIMEOUT: 504,
  UNPINNED_ERR_LB_IDLE_TIMEOUT: 504,
  UNPINNED_ERR_LB_BODY_TOO_LARGE: 413,
  UNPINNED_ERR_LB_HEADERS_TOO_LARGE: 431,
  UNPINNED_ERR_LB_BAD_REQUEST: 400,
  UNPINNED_ERR_LB_UNSUPPORTED_CODING: 501,
  UNPINNED_ERR_LB_CLIENT_TIMEOUT: 408,
  UNPINNED_ERR_LB_SHUTTING_DOWN: 503,
  UNPINNED_ERR_LB_UPGRADE_FAILED: 502,
  UNPINNED_ERR_LB_INVALID_OPTION: 500,
  UNPINNED_ERR_LB_UNKNOWN_BACKEND: 404,
  UNPINNED_ERR_LB_DUPLICATE_BACKEND: 409,
  UNPINNED_ERR_LB_UNKNOWN_STRATEGY: 400,
  UNPINNED_ERR_LB_UNAUTHORIZED: 401,
  UNPINNED_ERR_LB_FORBIDDEN: 403,
  UNPINNED_ERR_LB_RETIRING: 409,
};

/** Builds the error for `code` with its documented status and a message that ends with what to do. */
export function balancerError(code: BalancerErrorCode, detail: string, cause?: unknown): BalancerError {
  return new BalancerError(code, `${detail}. ${balancerErrorCodes[code]}`, {
    cause,
    statusCode: statusOf[code] ?? 500,
  });
}

export function invalidOption(name: string, expected: string, got: unknown): BalancerError {
  let shown: string;
  try {
    shown = typeof got === 'string' ? JSON.stringify(got) : String(got);
  } catch {
    shown = typeof got;
  }
  return new BalancerError(
    'UNPINNED_ERR_LB_INVALID_OPTION',
    `Invalid balancer option "${name}": expected ${expected}, got ${shown}.`,
    { statusCode: 400 },
  );
}
