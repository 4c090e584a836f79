/**
 * The user model: virtual users log in, browse, add and remove cart items and
 * check out, with think times between requests. A few heavy users think much
 * less and so make most of the requests (the skew). Each user draws from its
 * own seeded random source, so the same seed gives the same load against the
 * sticky baseline and the stateless system.
 *
 * Every loop is bounded: by a request count per user, by a deadline, and by the
 * caller's stop signal, whichever comes first.
 */
import { type RandomSource, seededRandom } from '../balancer/clock.js';
import type { VirtualUser } from './virtual-user.js';

export const skus = ['tea', 'mug', 'pot', 'cup', 'tin', 'kettle'] as const;

export interface UserModel {
  users: number;
  /** How many of the users are heavy (they come first: user-0 … user-(heavy-1)). */
  heavyUsers: number;
  /** Mean think time of an ordinary user, in ms. */
  thinkMs: number;
  /** Heavy users think this many times less. */
  heavyFactor: number;
  seed: number;
  /** Chance per step that a user logs out and in again (0 by default: nobody logs out). */
  logoutChance?: number;
}

export interface LoadBounds {
  maxRequestsPerUser: number;
  /** performance.now() after which no user starts another request. */
  deadline: number;
  stopped(): boolean;
}

/** The mean think time of user `i` under `model`. */
export function thinkTimeOf(model: UserModel, i: number): number {
  return i < model.heavyUsers ? model.thinkMs / model.heavyFactor : model.thinkMs;
}

/** Exponentially distributed think time (a Poisson arrival process per user), capped at 5× the mean. */
export function drawThink(random: RandomSource, meanMs: number): number {
  return Math.min(5 * meanMs, -Math.log(1 - random()) * meanMs);
}

/** One step of a user: what a shopper does next, given what it has in its cart. */
export async function step(user: VirtualUser, random: RandomSource, logoutChance = 0): Promise<void> {
  if (!user.loggedIn) return user.login();
  // Drawn only when logouts are modelled: the other scenarios keep their exact random sequence.
  if (logoutChance > 0 && random() < logoutChance) {
    await user.logout();
    return user.login();
  }
  const r = random();
  const sku = skus[Math.floor(random() * skus.length)]!;
  const inCart = Object.keys(user.expected);
  if (r < 0.3) await user.look();
  else if (r < 0.65) await user.add(sku);
  else if (r < 0.77 && inCart.length > 0) await user.remove(inCart[Math.floor(random() * inCart.length)]!);
  else if (r < 0.85 && user.items >= 3) await user.checkout();
  else if (r < 0.92) await user.browse();
  else await user.look();
}

/** Run every user until the bounds stop them; each ends with a last look, so late losses are seen. */
export async function runUsers(users: VirtualUser[], model: UserModel, bounds: LoadBounds): Promise<void> {
  await Promise.all(
    users.map(async (user, i) => {
      const random = seededRandom(model.seed * 7919 + i);
      const think = thinkTimeOf(model, i);
      let n = 0;
      // Users do not all click at the same instant: each starts after one think time of its own.
      await new Promise((resolve) => setTimeout(resolve, drawThink(random, think)));
      while (n < bounds.maxRequestsPerUser && !bounds.stopped() && performance.now() < bounds.deadline) {
        await step(user, random, model.logoutChance);
        n++;
        // Think time is part of the modelled load, not a wait for a condition.
        await new Promise((resolve) => setTimeout(resolve, drawThink(random, think)));
      }
      if (user.loggedIn) await user.look();
    }),
  );
}
