/**
 * What the coordinator of `npm run bench:realtime-fanout` and its simulated app servers
 * (realtime-fanout-server.ts) say to each other over IPC, and the clock they share.
 */

export type Variant = 'pubsub' | 'xread';

export type ToServer =
  | { type: 'setup'; variant: Variant; url: string; prefix: string; channels: string[] }
  | { type: 'expect'; deliveries: number }
  | { type: 'report' }
  | { type: 'exit' };

export interface ServerReport {
  delivered: number;
  /** xread: entries the stream had trimmed before they were read; pubsub: resets. */
  gaps: number;
  /** When the last message arrived, µs on CLOCK_MONOTONIC. */
  lastAtUs: number;
  /** This process's user+system CPU since `expect`. */
  cpuUs: number;
  /** Delivery latency in µs, an HdrHistogram in its compressed base64 form. */
  histogram: string;
}

export type FromServer =
  | { type: 'ready' }
  | { type: 'armed' }
  | { type: 'done' }
  | { type: 'report'; report: ServerReport }
  | { type: 'failed'; message: string };

/** µs on CLOCK_MONOTONIC: process.hrtime is one clock for every process of the machine. */
export const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);
