/**
 * When a failed attempt may be tried again on another server.
 *
 * - Never reached a server (connection refused, connect timeout, reset before the request was
 *   written): retried whatever the method. Nothing was executed, so nothing can be duplicated.
 * - Reached a server: retried only for idempotent methods (RFC 9110 §9.2.2,
 *   https://www.rfc-editor.org/rfc/rfc9110#section-9.2.2) without a body, and only when
 *   `retry.idempotent` is on. This is nginx's rule (`proxy_next_upstream` never passes a
 *   non-idempotent request on once it was sent) made opt-in, as HAProxy's `retry-on` is.
 * - Sent on a reused keep-alive connection that the server closed without answering a byte
 *   (it closed that idle connection as the request went out: RFC 9112 §9.3.1): an idempotent
 *   request without a body is sent again once, on a fresh connection, whether or not idempotent
 *   retries are configured (`retry.staleConnections`, on by default, turns this off). Go's and browsers' HTTP clients do the same; nginx goes further and
 *   passes any idempotent request on after an error by default (`proxy_next_upstream error`).
 * - A response already started towards the client is never retried.
 *
 * Retries are bounded per request (`maxAttempts`, counting the first) and overall by a budget in
 * the style of Envoy's retry_budget: at most `budgetPercent` of the requests in flight may be
 * retries, with a floor of `minConcurrency`, so a sick cluster is not hit by a retry storm.
 */

const idempotentMethods = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

export interface RetrySettings {
  maxAttempts: number;
  idempotent: boolean;
  staleConnections: boolean;
  /** Response statuses that count as failed for idempotent retries (only with `idempotent`). */
  onStatus: readonly number[];
  budgetPercent: number;
  minConcurrency: number;
}

export type FailureStage = 'not-sent' | 'sent';

export class RetryPolicy {
  readonly settings: RetrySettings;
  #activeRetries = 0;
  /** Requests in flight through the balancer; maintained by the proxy. */
  active = 0;

  constructor(settings: RetrySettings) {
    this.settings = settings;
  }

  /** Whether the policy allows another attempt; does not take budget. */
  allows(stage: FailureStage, method: string, hasBody: boolean, attemptsSoFar: number): boolean {
    if (attemptsSoFar >= this.settings.maxAttempts) return false;
    if (stage === 'not-sent') return true;
    return this.settings.idempotent && !hasBody && idempotentMethods.has(method);
  }

  /** Whether a request that met a stale keep-alive connection may be sent again (see above). */
  allowsStale(method: string, hasBody: boolean): boolean {
    return this.settings.staleConnections && !hasBody && idempotentMethods.has(method);
  }

  /** Whether a response status should be treated as a failed attempt worth retrying. */
  retriesStatus(status: number, method: string, hasBody: boolean, attemptsSoFar: number): boolean {
    return this.settings.onStatus.includes(status) && this.allows('sent', method, hasBody, attemptsSoFar);
  }

  /** Takes one unit of retry budget; false when the budget is spent. */
  acquire(): boolean {
    const limit = Math.max(
      this.settings.minConcurrency,
      Math.floor((this.active * this.settings.budgetPercent) / 100),
    );
    if (this.#activeRetries >= limit) return false;
    this.#activeRetries++;
    return true;
  }

  release(): void {
    this.#activeRetries--;
  }
}
