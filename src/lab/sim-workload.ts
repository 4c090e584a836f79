/**
 * The simulated workload: a population of users whose request counts follow a
 * capped Pareto law (most users make a couple of requests, a few make hundreds:
 * the same skew as the lab's heavy users), each spreading its requests over its
 * own visit. Arrivals are generated once and sorted by time with a counting sort
 * on a 1 ms grid, so every strategy replays exactly the same stream.
 */
import { type RandomSource, seededRandom } from '../balancer/clock.js';

export interface WorkloadOptions {
  users: number;
  /** Length of the simulated window, virtual ms. */
  windowMs: number;
  /** Pareto shape of requests per user (smaller: heavier tail). */
  alpha: number;
  /** No user makes more requests than this. */
  maxRequestsPerUser: number;
  /** Mean think time between two requests of a user, virtual ms. */
  thinkMs: number;
  seed: number;
  /** Put the arrays in SharedArrayBuffers, for worker threads to read without a copy. */
  shared?: boolean;
}

export interface Workload {
  /** Request i is made by user `user[i]` at virtual time `at[i]` ms; sorted by time. */
  user: Int32Array;
  at: Float64Array;
  requests: number;
  /** Share of all requests made by the busiest 1% of users. */
  topShare: number;
}

export function requestsPerUser(random: RandomSource, alpha: number, cap: number): number {
  return Math.min(cap, Math.floor(1 / (1 - random()) ** (1 / alpha)));
}

export function generateWorkload(o: WorkloadOptions): Workload {
  const random = seededRandom(o.seed);
  const counts = new Int32Array(o.users);
  let requests = 0;
  for (let u = 0; u < o.users; u++) {
    counts[u] = requestsPerUser(random, o.alpha, o.maxRequestsPerUser);
    requests += counts[u]!;
  }
  // First pass: the time of every request on a 1 ms grid, and how many fall in each slot.
  const slots = Math.ceil(o.windowMs);
  const perSlot = new Int32Array(slots + 1);
  const rawAt = new Float64Array(requests);
  const rawUser = new Int32Array(requests);
  let r = 0;
  for (let u = 0; u < o.users; u++) {
    const n = counts[u]!;
    const visit = Math.min(o.windowMs * 0.5, n * o.thinkMs);
    const start = random() * (o.windowMs - visit);
    for (let k = 0; k < n; k++) {
      const t = start + random() * visit;
      rawAt[r] = t;
      rawUser[r] = u;
      perSlot[Math.floor(t) + 1]!++;
      r++;
    }
  }
  for (let s = 1; s <= slots; s++) perSlot[s]! += perSlot[s - 1]!;
  const Buffer = o.shared ? SharedArrayBuffer : ArrayBuffer;
  const user = new Int32Array(new Buffer(requests * 4));
  const at = new Float64Array(new Buffer(requests * 8));
  for (let i = 0; i < requests; i++) {
    const slot = Math.floor(rawAt[i]!);
    const pos = perSlot[slot]!++;
    user[pos] = rawUser[i]!;
    at[pos] = rawAt[i]!;
  }
  return { user, at, requests, topShare: topShare(counts, requests) };
}

function topShare(counts: Int32Array, requests: number): number {
  const sorted = Int32Array.from(counts).sort();
  const top = Math.max(1, Math.floor(counts.length / 100));
  let sum = 0;
  for (let i = sorted.length - top; i < sorted.length; i++) sum += sorted[i]!;
  return requests ? sum / requests : 0;
}
