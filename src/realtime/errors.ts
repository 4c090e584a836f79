/**
 * Errors of the realtime part. Same shape as the session errors (stable `code`,
 * a message that says what to do, `cause`, an HTTP status); docs/errors.md lists them.
 */
import { UnpinnedError } from '../session/errors.js';

/** Publishing or reading history failed: Redis did not answer (down, deadline passed, error reply). */
export function realtimeUnavailable(operation: string, cause: unknown): UnpinnedError {
  const why = cause instanceof Error ? cause.message || cause.name : String(cause);
  return new UnpinnedError(
    'UNPINNED_ERR_REALTIME_UNAVAILABLE',
    `Realtime store unavailable during ${operation}: ${why}. Nothing was acknowledged; publish again later (a publish that timed out may have landed once). Check that Redis is up and reachable.`,
    { cause, statusCode: 503, headers: { 'retry-after': '1' } },
  );
}

export function invalidChannel(channel: unknown): UnpinnedError {
  return new UnpinnedError(
    'UNPINNED_ERR_REALTIME_INVALID_CHANNEL',
    `Invalid realtime channel ${JSON.stringify(String(channel)).slice(0, 80)}: expected "user:<id>", "session:<id>" or "room:<name>", at most 200 characters of letters, digits and "-_.:@".`,
    { statusCode: 400 },
  );
}

export function forbidden(channel: string): UnpinnedError {
  return new UnpinnedError(
    'UNPINNED_ERR_REALTIME_FORBIDDEN',
    `This session may not subscribe to "${channel}". A user channel is only for that user's sessions, a session channel only for that session, and rooms need the app's \`authorizeRoom\` to say yes.`,
    { statusCode: 403 },
  );
}

export function realtimeClosed(): UnpinnedError {
  return new UnpinnedError(
    'UNPINNED_ERR_REALTIME_CLOSED',
    'The realtime instance was closed (the server is shutting down). Clients reconnect to another server; publish from a live instance.',
    { statusCode: 503, headers: { 'retry-after': '1' } },
  );
}
