/**
 * Every error the session library raises. Users match on `err.code`, which is
 * stable and never reused; `docs/errors.md` lists the same codes and a test keeps
 * the two in step. A missing, expired or forged session is not an error: it is
 * `null` or an empty session.
 */

export interface UnpinnedErrorOptions {
  cause?: unknown;
  statusCode?: number;
  headers?: Record<string, string>;
}

export class UnpinnedError extends Error {
  readonly code: string;
  /** HTTP status an adapter answers with when this error reaches it. */
  readonly statusCode: number;
  /** Headers to send with that answer (Express's finalhandler honours `err.headers`). */
  readonly headers: Record<string, string> | undefined;

  constructor(code: string, message: string, options: UnpinnedErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'UnpinnedError';
    this.code = code;
    this.statusCode = options.statusCode ?? 500;
    this.headers = options.headers;
  }
}

/** Code → what it means and what to do. The single source of truth for docs/errors.md. */
export const errorCodes = {
  UNPINNED_ERR_STORE_UNAVAILABLE:
    'The session store could not be asked (connection down, command deadline passed, or an error reply). Adapters answer 503 with Retry-After. A write that timed out may or may not have landed, but it never re-creates a destroyed session. Retry later; see `cause`.',
  UNPINNED_ERR_SESSION_TOO_LARGE:
    'A write would make the session larger than `maxSessionBytes`. Store less in the session (keep large data elsewhere and store its id), or raise the limit.',
  UNPINNED_ERR_NOT_SERIALIZABLE:
    'A session value could not be written as JSON (undefined, a function, a BigInt or a cycle). Store plain JSON values.',
  UNPINNED_ERR_UPDATE_CONFLICT:
    '`session.update()` lost the compare-and-set race more times than `maxUpdateAttempts`. The key is heavily contended: use `session.increment()` or raise the limit.',
  UNPINNED_ERR_SESSION_COMMITTED:
    'The session was changed after its request was committed (the response had already started). Change the session before you send the response.',
  UNPINNED_ERR_NOT_A_NUMBER:
    '`session.increment()` was called on a key that holds something other than a number. Use a key that only `increment()` writes.',
  UNPINNED_ERR_SESSION_ENDED:
    'The session was destroyed, revoked or expired while this request ran (a logout elsewhere), so an atomic change to it was not saved. Treat the user as logged out.',
  UNPINNED_ERR_NOT_REPLICATED:
    "With the Redis store's `durability` option, a write reached the master but fewer replicas than required acknowledged it (WAIT) in time. Adapters answer 503 with Retry-After. The write is on the master and may be lost if it fails over now. Check that the replicas are up and connected, or lower `durability.replicas`.",
  UNPINNED_ERR_MISSING_DEPENDENCY:
    'An optional dependency is not installed (the message names it). Install it with npm, or use a part of unpinned that does not need it.',
  UNPINNED_ERR_INVALID_OPTION:
    'An option passed to unpinned is invalid; the message names it and what it accepts.',
  UNPINNED_ERR_INVALID_KEY:
    'A session key is invalid: it must be a non-empty string of at most 256 characters that does not start with "$".',
} as const;

export type ErrorCode = keyof typeof errorCodes;

export function storeUnavailable(operation: string, cause: unknown, retryAfterSeconds = 1): UnpinnedError {
  return new UnpinnedError(
    'UNPINNED_ERR_STORE_UNAVAILABLE',
    `Session store unavailable during ${operation}: ${describeCause(cause)}. Retry later; check that the store (Redis) is up and reachable.`,
    { cause, statusCode: 503, headers: { 'retry-after': String(retryAfterSeconds) } },
  );
}

export function invalidOption(name: string, expected: string, got: unknown): UnpinnedError {
  return new UnpinnedError(
    'UNPINNED_ERR_INVALID_OPTION',
    `Invalid option "${name}": expected ${expected}, got ${safeDescribe(got)}.`,
  );
}

function describeCause(cause: unknown): string {
  if (cause instanceof Error) return cause.message || cause.name;
  return String(cause);
}

function safeDescribe(value: unknown): string {
  try {
    return typeof value === 'string' ? JSON.stringify(value) : String(value);
  } catch {
    return typeof value;
  }
}
