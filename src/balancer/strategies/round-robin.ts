import type { Backend } from '../backend.js';
import { nextInRing, type PickContext, Strategy } from './strategy.js';

/**
 * Round-robin in configuration order: the next available server after the last one picked, so
 * a server that goes down is skipped and the rotation resumes where it was (nginx's default).
 *
 * @example
 * createBalancer({ backends, strategy: 'round-robin' });
 */
export class RoundRobinStrategy extends Strategy {
  readonly name = 'round-robin';
  #lastSeq = -1;

  pick(candidates: readonly Backend[], ctx: PickContext): Backend | undefined {
    const chosen = candidates[nextInRing(candidates, this.#lastSeq, ctx)];
    if (chosen) this.#lastSeq = ctx.seqOf(chosen);
    return chosen;
  }
}
