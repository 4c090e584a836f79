import type { Backend } from '../backend.js';
import { nextInRing, type PickContext, Strategy } from './strategy.js';

/**
 * The server with the fewest requests in flight through this balancer; ties go round-robin
 * (starting after the last pick), so an idle pool still spreads evenly (nginx `least_conn`).
 *
 * @example
 * createBalancer({ backends, strategy: 'least-connections' });
 */
export class LeastConnectionsStrategy extends Strategy {
  readonly name = 'least-connections';
  #lastSeq = -1;

  pick(candidates: readonly Backend[], ctx: PickContext): Backend | undefined {
    const n = candidates.length;
    const start = nextInRing(candidates, this.#lastSeq, ctx);
    let best: Backend | undefined;
    for (let k = 0; k < n; k++) {
      const b = candidates[(start + k) % n]!;
      if (!best || b.inFlight < best.inFlight) best = b;
    }
    if (best) this.#lastSeq = ctx.seqOf(best);
    return best;
  }
}
