/**
 * The store's own round trip, as a client on the app servers' host sees it: PING over one
 * persistent node-redis connection (the client the shop's store uses), paced so it adds no
 * load worth the name. The overhead scenario puts it next to the session work measured inside
 * the apps, so "a session lookup costs X µs" can be read against "Redis answers in Y µs".
 */
import type { Histogram } from 'hdr-histogram-js';
import { newHistogram } from './recorder.js';

export interface StoreRtt {
  samples: number;
  p50Us: number;
  p99Us: number;
}

/** Bounded: at most this many PINGs, whatever the run's length. */
const MAX_SAMPLES = 20_000;

export class StoreRttProbe {
  readonly #histogram: Histogram = newHistogram();
  #stopped = false;
  readonly #done: Promise<void>;

  private constructor(client: Pingable, everyMs: number) {
    this.#done = this.#loop(client, everyMs);
  }

  static async start(url: string, everyMs = 5): Promise<StoreRttProbe> {
    const { createClient } = await import('redis');
    const client = createClient({ url, disableOfflineQueue: true });
    client.on('error', () => {}); // a failed PING ends the loop; the run reports what it had
    await client.connect();
    return new StoreRttProbe(client as unknown as Pingable, everyMs);
  }

  async stop(): Promise<StoreRtt> {
    this.#stopped = true;
    await this.#done;
    const h = this.#histogram;
    const result = {
      samples: h.totalCount,
      p50Us: h.getValueAtPercentile(50),
      p99Us: h.getValueAtPercentile(99),
    };
    h.destroy();
    return result;
  }

  async #loop(client: Pingable, everyMs: number): Promise<void> {
    try {
      while (!this.#stopped && this.#histogram.totalCount < MAX_SAMPLES) {
        const started = performance.now();
        await client.ping();
        this.#histogram.recordValue(Math.max(1, Math.round((performance.now() - started) * 1000)));
        // Pacing between probes, not a wait for a condition.
        await new Promise((resolve) => setTimeout(resolve, everyMs));
      }
    } catch {
      // The store went away (a fault scenario): keep what was measured.
    } finally {
      await client.close().catch(() => {});
    }
  }
}

interface Pingable {
  ping(): Promise<unknown>;
  close(): Promise<void>;
}
