/**
 * `unpinned/balancer`: an HTTP load balancer for stateless app servers. It knows nothing of
 * sessions (DESIGN.md §2).
 *
 * @example
 * import { createBalancer } from 'unpinned/balancer';
 * const lb = createBalancer({ backends: ['http://127.0.0.1:3001', 'http://127.0.0.1:3002'], strategy: 'p2c' });
 * await lb.listen(8080);
 */

export type { BackendSnapshot, BackendSpec, BackendState } from './backend.js';
export { Balancer, createBalancer, type StateEvent } from './balancer.js';
export { type Clock, type RandomSource, seededRandom, systemClock } from './clock.js';
export type { BalancerOptions, HealthCheckOptions } from './config.js';
export { BalancerError, type BalancerErrorCode, balancerErrorCodes } from './errors.js';
export { requestChannel, retryChannel, stateChannel } from './events.js';
export type { LegacySnapshot, RetireReason, RetireResult, RetiringSnapshot } from './legacy.js';
export { type StrategyName, strategyNames } from './strategies/strategy.js';
