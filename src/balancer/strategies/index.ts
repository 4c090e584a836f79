import type { RandomSource } from '../clock.js';
import { balancerError } from '../errors.js';
import { IpHashStrategy } from './ip-hash.js';
import { LeastConnectionsStrategy } from './least-connections.js';
import { PowerOfTwoStrategy } from './p2c.js';
import { RandomStrategy } from './random.js';
import { RoundRobinStrategy } from './round-robin.js';
import { StickyCookieStrategy } from './sticky-cookie.js';
import { type Strategy, type StrategyName, strategyNames } from './strategy.js';

export { type PickContext, Strategy, type StrategyName, strategyNames } from './strategy.js';

export interface StrategyDeps {
  random: RandomSource;
  stickyCookie: string;
}

/**
 * Builds a strategy by name.
 *
 * @example
 * const s = createStrategy('p2c', { random: Math.random, stickyCookie: 'SRV' });
 */
export function createStrategy(name: string, deps: StrategyDeps): Strategy {
  switch (name as StrategyName) {
    case 'round-robin':
      return new RoundRobinStrategy();
    case 'least-connections':
      return new LeastConnectionsStrategy();
    case 'random':
      return new RandomStrategy(deps.random);
    case 'p2c':
      return new PowerOfTwoStrategy(deps.random);
    case 'sticky-cookie':
      return new StickyCookieStrategy(deps.stickyCookie);
    case 'ip-hash':
      return new IpHashStrategy();
    default:
      throw balancerError(
        'UNPINNED_ERR_LB_UNKNOWN_STRATEGY',
        `Unknown strategy "${name}" (known: ${strategyNames.join(', ')})`,
      );
  }
}
