/**
 * Waits for a condition instead of sleeping a fixed time: polls `condition` until it holds, and
 * fails with `message` once `timeoutMs` has passed (a bound against hangs, not a timing claim).
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  { timeoutMs = 10_000, message = 'condition' }: { timeoutMs?: number; message?: string } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`waitFor: ${message} not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
