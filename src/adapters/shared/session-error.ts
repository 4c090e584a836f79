/** How adapters turn a failure into an answer, shared by node:http and web-standard responses. */
import { UnpinnedError } from '../../session/errors.js';

/** Anything a commit threw, as an UnpinnedError (a store failure we did not classify is an outage). */
export function asUnpinned(error: unknown): UnpinnedError {
  if (error instanceof UnpinnedError) return error;
  return new UnpinnedError('UNPINNED_ERR_STORE_UNAVAILABLE', 'The session could not be committed.', {
    cause: error,
    statusCode: 503,
    headers: { 'retry-after': '1' },
  });
}

/** The JSON body of an error answer. Outage details (hosts, ports) stay in logs; the client learns only what it can act on. */
export function errorBody(error: UnpinnedError): string {
  const message =
    error.statusCode === 503 ? 'Sessions are temporarily unavailable. Retry shortly.' : error.message;
  return JSON.stringify({ error: { code: error.code, message } });
}

/** A session used after its response started: refused, rather than changed and silently lost. */
export function committedError(): UnpinnedError {
  return new UnpinnedError(
    'UNPINNED_ERR_SESSION_COMMITTED',
    'The session was used after the response had started. Use the session before sending the response.',
  );
}
