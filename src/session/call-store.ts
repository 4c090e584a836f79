import { storeUnavailable, UnpinnedError } from './errors.js';
import type { SessionMetrics } from './metrics.js';

/**
 * Runs one store call. Whatever a store throws reaches the user as
 * UNPINNED_ERR_STORE_UNAVAILABLE with the original as `cause`: "could not ask" is
 * never confused with "not found", and never turns into a silent new session.
 */
export async function callStore<T>(
  metrics: SessionMetrics,
  operation: string,
  fn: () => Promise<T>,
): Promise<T> {
  const started = performance.now();
  try {
    return await fn();
  } catch (cause) {
    metrics.storeErrors++;
    if (cause instanceof UnpinnedError) throw cause;
    throw storeUnavailable(operation, cause);
  } finally {
    metrics.storeCall(operation, (performance.now() - started) / 1000);
  }
}
