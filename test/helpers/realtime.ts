/**
 * Realtime test helpers: app servers (test/fixtures/realtime-server.mjs) run as
 * real child processes behind the real balancer, and subscribers that count,
 * per numbered message, what was lost, duplicated or out of order.
 */
import { fileURLToPath } from 'node:url';
import { EventSource } from 'eventsource';
import { AppProcess } from '../../src/system/app-process.js';

const fixture = fileURLToPath(new URL('../fixtures/realtime-server.mjs', import.meta.url));

export function realtimeServer(name: string, redisUrl: string, env: Record<string, string> = {}): AppProcess {
  return new AppProcess({
    name,
    command: [process.execPath, fixture],
    env: { REDIS_URL: redisUrl, ...env },
    healthPath: '/health',
    startTimeoutMs: 15_000,
    stopTimeoutMs: 10_000,
  });
}

/** What one subscriber saw of a channel whose messages are `{ n }`, n = 1, 2, 3… */
export class Oracle {
  readonly seen = new Set<number>();
  last = 0;
  duplicated = 0;
  reordered = 0;
  resets = 0;
  received = 0;

  take(n: number): void {
    this.received++;
    if (this.seen.has(n)) this.duplicated++;
    else if (n < this.last) this.reordered++;
    this.seen.add(n);
    this.last = Math.max(this.last, n);
  }

  /** Messages in 1..expected never seen; and whether the sequence so far is exactly 1..last. */
  lost(expected: number): number {
    let missing = 0;
    for (let n = 1; n <= expected; n++) if (!this.seen.has(n)) missing++;
    return missing;
  }
}

export interface SseSubscriber {
  oracle: Oracle;
  source: EventSource;
  opened: number;
  failed: boolean;
  ready: boolean;
  close(): void;
}

/** An `eventsource` (the WHATWG algorithm) client; it reconnects by itself with Last-Event-ID. */
export function sseSubscriber(url: string): SseSubscriber {
  const source = new EventSource(url);
  const sub: SseSubscriber = {
    oracle: new Oracle(),
    source,
    opened: 0,
    failed: false,
    ready: false,
    close: () => source.close(),
  };
  source.addEventListener('open', () => sub.opened++);
  source.addEventListener('ready', () => {
    sub.ready = true;
  });
  source.addEventListener('reset', () => sub.oracle.resets++);
  source.addEventListener('message', (event) => sub.oracle.take((JSON.parse(event.data) as { n: number }).n));
  source.addEventListener('error', () => {
    // CLOSED after an error means the EventSource gave up for good (a non-200 answer).
    if (source.readyState === EventSource.CLOSED) sub.failed = true;
  });
  return sub;
}
