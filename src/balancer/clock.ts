/**
 * Time and chance as injectable dependencies, so tests drive health-check intervals, ejection
 * cooldowns and random strategies deterministically instead of sleeping or hoping.
 */

/** A timer handle as returned by {@link Clock.setTimeout}. */
export type TimerHandle = unknown;

/**
 * The clock the balancer reads and schedules with.
 *
 * @example
 * const clock: Clock = { now: () => t, setTimeout: (fn, ms) => queue.add(fn, t + ms), clearTimeout: (h) => queue.delete(h) };
 */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** The real clock; its timers are unref'ed so they never keep a process alive on their own. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** A source of uniform numbers in [0, 1), like `Math.random`. */
export type RandomSource = () => number;

/**
 * A small seeded PRNG (mulberry32): the same seed gives the same picks, run after run.
 *
 * @example
 * createBalancer({ backends, strategy: 'random', random: seededRandom(42) });
 */
export function seededRandom(seed: number): RandomSource {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
