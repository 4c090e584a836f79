/**
 * Turns what the upstream client reports into the balancer's error codes, and says whether the failure means
 * the server is unwell (for passive ejection). Status choices follow nginx: a refused or broken
 * upstream is 502, an upstream that is too slow is 504 (https://nginx.org/en/docs/http/ngx_http_upstream_module.html).
 */
import { type BalancerError, type BalancerErrorCode, balancerError } from './errors.js';
import { UpstreamError, type UpstreamErrorKind } from './upstream/errors.js';

const byKind: Partial<Record<UpstreamErrorKind, BalancerErrorCode>> = {
  'connect-timeout': 'UNPINNED_ERR_LB_CONNECT_TIMEOUT',
  'headers-timeout': 'UNPINNED_ERR_LB_HEADERS_TIMEOUT',
  'body-timeout': 'UNPINNED_ERR_LB_IDLE_TIMEOUT',
};

/** Maps an attempt's failure; `sent` tells whether the request was already on the wire. */
export function classifyFailure(err: unknown, sent: boolean, serverId: string): BalancerError {
  if (isBalancerError(err)) return err;
  // The request body failed on our side (body limit): that error is the answer.
  if (err instanceof UpstreamError && err.kind === 'request-body' && isBalancerError(err.cause))
    return err.cause;
  const mapped = err instanceof UpstreamError ? byKind[err.kind] : undefined;
  const detail = `Server ${serverId} failed: ${(err as Error)?.message ?? String(err)}`;
  if (mapped) return balancerError(mapped, detail, err);
  return balancerError(
    sent ? 'UNPINNED_ERR_LB_BACKEND_FAILED' : 'UNPINNED_ERR_LB_BACKEND_UNREACHABLE',
    detail,
    err,
  );
}

/** The attempt never connected: refused, or no answer within the connect timeout. */
export function isConnectFailure(error: BalancerError): boolean {
  return (
    error.code === 'UNPINNED_ERR_LB_BACKEND_UNREACHABLE' || error.code === 'UNPINNED_ERR_LB_CONNECT_TIMEOUT'
  );
}

/** Failures that say something about the server's health (not the client's doing). */
export function countsAgainstServer(error: BalancerError): boolean {
  switch (error.code) {
    case 'UNPINNED_ERR_LB_BACKEND_UNREACHABLE':
    case 'UNPINNED_ERR_LB_BACKEND_FAILED':
    case 'UNPINNED_ERR_LB_CONNECT_TIMEOUT':
    case 'UNPINNED_ERR_LB_HEADERS_TIMEOUT':
    case 'UNPINNED_ERR_LB_IDLE_TIMEOUT':
      return true;
    default:
      return false;
  }
}

function isBalancerError(err: unknown): err is BalancerError {
  return err instanceof Error && err.name === 'BalancerError';
}
