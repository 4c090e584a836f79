import type { Backend } from '../backend.js';
import { RandomizedStrategy } from './random.js';

/**
 * Power of two choices: two distinct random servers, the one with fewer requests in flight wins
 * (the first drawn on a tie). Nearly least-connections' balance without its herd behaviour when
 * many balancers share stale counts (Mitzenmacher 2001; Envoy's default LEAST_REQUEST).
 *
 * @example
 * createBalancer({ backends, strategy: 'p2c' });
 */
export class PowerOfTwoStrategy extends RandomizedStrategy {
  readonly name = 'p2c';

  pick(candidates: readonly Backend[]): Backend | undefined {
    const n = candidates.length;
    if (n <= 1) return candidates[0];
    const i = Math.floor(this.random() * n);
    let j = Math.floor(this.random() * (n - 1));
    if (j >= i) j++;
    const a = candidates[i]!;
    const b = candidates[j]!;
    return b.inFlight < a.inFlight ? b : a;
  }
}
