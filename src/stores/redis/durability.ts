/**
 * The durability option: a write returns only once `replicas` replicas have it
 * (Redis WAIT after the write, on the same connection). Redis replicates
 * asynchronously, so without it a master that dies right after answering can
 * take the last writes with it; with it, the answer waits for the replicas
 * (about one more round trip), and a write they did not acknowledge in time is
 * an error, not a silent risk.
 * https://redis.io/docs/latest/commands/wait/
 */
import { invalidOption, UnpinnedError } from '../../session/errors.js';

export interface Durability {
  /** Replicas that must acknowledge each write (at least 1). */
  replicas: number;
  /** Milliseconds WAIT may block; below the store's command timeout. */
  timeoutMs: number;
}

export function checkDurability(
  durability: Durability | undefined,
  commandTimeout: number,
): Durability | null {
  if (durability === undefined) return null;
  const { replicas, timeoutMs } = durability ?? {};
  if (!(Number.isInteger(replicas) && replicas >= 1)) {
    throw invalidOption('durability.replicas', 'an integer >= 1', replicas);
  }
  // WAIT 0 would block forever; at or past the command timeout the deadline fires first.
  if (!(Number.isInteger(timeoutMs) && timeoutMs >= 1 && timeoutMs < commandTimeout)) {
    throw invalidOption(
      'durability.timeoutMs',
      `integer milliseconds from 1 to ${commandTimeout - 1}`,
      timeoutMs,
    );
  }
  return { replicas, timeoutMs };
}

export function notReplicated(acked: number, replicas: number, timeoutMs: number): UnpinnedError {
  return new UnpinnedError(
    'UNPINNED_ERR_NOT_REPLICATED',
    `A session write reached the Redis master but only ${acked} of the ${replicas} replicas required by \`durability\` acknowledged it within ${timeoutMs} ms, so a failover now could lose it. Retry later; check that the replicas are up and connected (INFO replication).`,
    { statusCode: 503, headers: { 'retry-after': '1' } },
  );
}
