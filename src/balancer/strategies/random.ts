import type { Backend } from '../backend.js';
import type { RandomSource } from '../clock.js';
import { Strategy } from './strategy.js';

/** Base of the strategies that draw random numbers: the source is injected (seeded in tests). */
export abstract class RandomizedStrategy extends Strategy {
  protected readonly random: RandomSource;

  constructor(random: RandomSource) {
    super();
    this.random = random;
  }
}

/**
 * A uniformly random server. Stateless, so several balancers in parallel stay uncorrelated.
 *
 * @example
 * createBalancer({ backends, strategy: 'random', random: seededRandom(7) });
 */
export class RandomStrategy extends RandomizedStrategy {
  readonly name = 'random';

  pick(candidates: readonly Backend[]): Backend | undefined {
    return candidates[Math.floor(this.random() * candidates.length)];
  }
}
