/**
 * The realtime scenario's oracle: one subscriber's view of its room. Message n of a room is owed
 * to every subscriber of the room, so a missing n is lost, a second n a duplicate, an n below one
 * already seen out of order; a cut lasts from the end of a connection to the first message over
 * the next one (its resume time).
 */
import type { Observer } from './realtime-stacks.js';

/** One subscriber's view of its room, and its cuts. */
export class Watch implements Observer {
  readonly seen = new Set<number>();
  last = 0;
  duplicated = 0;
  reordered = 0;
  resets = 0;
  failedConnects = 0;
  subscribed = false;
  cuts = 0;
  readonly resumes: number[] = [];
  #cutAt: number | null = null;
  readonly #now: () => number;
  readonly #arrived: (at: number) => void;

  constructor(now: () => number, arrived: (at: number) => void) {
    this.#now = now;
    this.#arrived = arrived;
  }

  get waiting(): boolean {
    return this.#cutAt !== null;
  }

  ready(): void {
    this.subscribed = true;
  }

  take(n: number): void {
    const at = this.#now();
    this.#arrived(at);
    if (this.seen.has(n)) this.duplicated++;
    else if (n < this.last) this.reordered++;
    this.seen.add(n);
    this.last = Math.max(this.last, n);
    if (this.#cutAt !== null) {
      this.resumes.push(at - this.#cutAt);
      this.#cutAt = null;
    }
  }

  cut(): void {
    // Before it subscribed nothing is owed to it; while it reconnects it is one cut, not many.
    if (!this.subscribed || this.#cutAt !== null) return;
    this.#cutAt = this.#now();
    this.cuts++;
  }

  reset(): void {
    this.resets++;
  }

  failedConnect(): void {
    this.failedConnects++;
  }
}
