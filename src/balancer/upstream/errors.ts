/**
 * Failures of the upstream client, by kind. The proxy maps them to the balancer's error codes
 * (failures.ts); `kind` is what that mapping reads, the message is for people.
 */
export type UpstreamErrorKind =
  /** The TCP connection could not be made in time. */
  | 'connect-timeout'
  /** The connection could not be made (refused, unreachable, reset while connecting). */
  | 'connect'
  /** No complete response head within `headersTimeoutMs` of writing the request. */
  | 'headers-timeout'
  /** The response body stalled for `idleTimeoutMs`. */
  | 'body-timeout'
  /** The connection broke, or the server closed it, before the response was complete. */
  | 'socket'
  /** The server's answer is not valid HTTP/1.1 (bad framing, bad header, head too large). */
  | 'bad-response'
  /** The pool was closed or destroyed while the request waited or ran. */
  | 'closed'
  /** The request's own body stream failed (client went away, body limit hit). */
  | 'request-body';

export class UpstreamError extends Error {
  override readonly name = 'UpstreamError';
  /**
   * The request went out on a reused keep-alive connection that then closed without a byte of
   * response: most likely the server had closed that idle connection as the request was sent
   * (the keep-alive race of RFC 9112 §9.3.1), so it most likely never ran.
   */
  readonly stale: boolean;

  constructor(
    readonly kind: UpstreamErrorKind,
    message: string,
    options?: { cause?: unknown; stale?: boolean },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.stale = options?.stale ?? false;
  }
}
