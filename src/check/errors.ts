/**
 * Errors of `unpinned check`. Every one of them is a usage or setup problem
 * (exit code 2): a finding about the app is a result, never an error.
 */
export type CheckErrorCode =
  | 'UNPINNED_ERR_CHECK_USAGE'
  | 'UNPINNED_ERR_CHECK_HAR_INVALID'
  | 'UNPINNED_ERR_CHECK_SCRIPT_INVALID'
  | 'UNPINNED_ERR_CHECK_NO_REDIS'
  | 'UNPINNED_ERR_CHECK_WORKDIR'
  | 'UNPINNED_ERR_CHECK_APP_START'
  | 'UNPINNED_ERR_CHECK_PORT_TAKEN'
  | 'UNPINNED_ERR_CHECK_APP_EXITED'
  | 'UNPINNED_ERR_CHECK_REQUEST_FAILED'
  | 'UNPINNED_ERR_CHECK_REJECTED';

/**
 * @example
 * try { await check(options); } catch (err) {
 *   if (err instanceof CheckError && err.code === 'UNPINNED_ERR_CHECK_HAR_INVALID') console.error(err.message);
 * }
 */
export class CheckError extends Error {
  readonly code: CheckErrorCode;

  constructor(code: CheckErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CheckError';
    this.code = code;
  }
}
