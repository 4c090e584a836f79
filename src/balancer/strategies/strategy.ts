/**
 * The contract every strategy implements: one `pick()` over the candidates that the member base
 * (members.ts) has already filtered for health, ejection and draining. Strategies hold only
 * their own cursor or seed; counters and state belong to the base (undici's BalancedPool layering).
 */
import type { Backend } from '../backend.js';
import type { ClientRequest } from '../downstream.js';

/** Names accepted by the CLI, the admin API and `createBalancer({ strategy })`. */
export const strategyNames = [
  'round-robin',
  'least-connections',
  'random',
  'p2c',
  'sticky-cookie',
  'ip-hash',
] as const;

export type StrategyName = (typeof strategyNames)[number];

/** What a strategy may look at besides the candidates. */
export interface PickContext {
  /** The client request (sticky-cookie reads its Cookie header). `undefined` in pure pick tests. */
  readonly req: ClientRequest | undefined;
  /** The client address after trusted-proxy resolution (ip-hash hashes it). */
  readonly clientIp: string;
  /** Every configured server, in configuration order, whatever its state. */
  readonly members: readonly Backend[];
  /** Servers already tried for this request: a retry must land elsewhere. */
  readonly tried: ReadonlySet<Backend> | undefined;
  /** Current clock time. */
  readonly now: number;
  /** Position of a server in configuration order (stable across membership changes). */
  seqOf(backend: Backend): number;
}

/**
 * Base class of all strategies.
 *
 * @example
 * class FirstStrategy extends Strategy {
 *   readonly name = 'round-robin';
 *   pick(candidates) { return candidates[0]; }
 * }
 */
export abstract class Strategy {
  abstract readonly name: StrategyName;

  /** Chooses the server for one request among `candidates` (never empty), or `undefined` for none. */
  abstract pick(candidates: readonly Backend[], ctx: PickContext): Backend | undefined;

  /**
   * Headers to add to the response from `backend` (the sticky cookie). Strategies that do not
   * change responses leave this undefined, so the proxy skips the call on its hot path.
   */
  responseHeaders?(backend: Backend, ctx: PickContext): readonly [string, string][] | undefined;

  /** A cookie name the proxy removes from requests before forwarding (HAProxy `indirect`). */
  readonly stripCookie?: string;
}

/** The first candidate after `last` in configuration order, wrapping around. */
export function nextInRing(candidates: readonly Backend[], lastSeq: number, ctx: PickContext): number {
  for (let i = 0; i < candidates.length; i++) {
    if (ctx.seqOf(candidates[i]!) > lastSeq) return i;
  }
  return 0;
}
