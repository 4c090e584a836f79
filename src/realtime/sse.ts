/**
 * Server-Sent Events (https://html.spec.whatwg.org/multipage/server-sent-events.html).
 *
 * - Each message is `id: <epoch>:<offset>` and `data: <json>`; the browser
 *   sends the last id back as `Last-Event-ID` when it reconnects, on any server.
 * - Every answer to a well-formed, allowed request is a 200 stream, even when
 *   Redis is down: any other status ends an EventSource for good (§9.2.3,
 *   "fail the connection"). An outage is an `unavailable` event, then `retry:`
 *   and the end of the stream, after which the browser reconnects by itself.
 * - A comment line every `keepAliveMs` keeps proxies from closing an idle stream.
 * - A client that reads too slowly is ended (it resumes from its offset) rather
 *   than buffered without bound.
 */
import type { Realtime } from './realtime.js';
import type { RealtimeEvent } from './subscription.js';
import { type Admitted, admit, asError, attach, formatId, type LiveRequest } from './transport.js';

export interface EventSink {
  write(chunk: string): void;
  end(): void;
  /** Bytes written and not yet taken by the client. */
  buffered(): number;
  onClose(listener: () => void): void;
}

export interface Head {
  status: number;
  headers: Record<string, string>;
  body?: string;
}

/** Unsent bytes past which a slow client is ended (it resumes from its offset). */
const MAX_BUFFERED_BYTES = 1 << 20;

export const sseHeaders = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-store',
  // nginx buffers proxied responses unless told not to.
  'x-accel-buffering': 'no',
};

/** One SSE event block (§9.2.6): a line per field, a blank line to dispatch. */
export function sseEvent(event: RealtimeEvent): string {
  switch (event.type) {
    case 'message':
      return `id: ${formatId(event.epoch, event.offset)}\ndata: ${event.data}\n\n`;
    case 'error':
      return `event: unavailable\ndata: ${JSON.stringify({ code: event.code, message: event.message })}\n\n`;
    default:
      return `event: ${event.type}\nid: ${formatId(event.epoch, event.offset)}\ndata: ${JSON.stringify({ epoch: event.epoch, offset: event.offset })}\n\n`;
  }
}

/**
 * Serve one SSE subscription. `open` starts the response with a status and
 * headers and returns where to write; a refused request gets `Head.body` instead.
 */
export async function serveSse(
  realtime: Realtime,
  request: LiveRequest,
  open: (head: Head) => EventSink | null,
): Promise<void> {
  let who: Admitted;
  try {
    who = await admit(realtime, request);
  } catch (error) {
    const e = asError(error);
    // Forbidden or a bad channel: a final answer. An outage: a stream that says so and asks to come back.
    if (e.statusCode !== 503) {
      open({
        status: e.statusCode,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ code: e.code, error: e.message }),
      });
      return;
    }
    const sink = open({ status: 200, headers: sseHeaders });
    sink?.write(
      `retry: ${realtime.retryHint()}\n${sseEvent({ type: 'error', code: e.code, message: e.message })}`,
    );
    sink?.end();
    return;
  }
  const sink = open({ status: 200, headers: sseHeaders });
  if (!sink) return;
  streamSse(realtime, who, request, sink);
}

function streamSse(realtime: Realtime, who: Admitted, request: LiveRequest, sink: EventSink): void {
  const { channel } = who;
  let ended = false;
  let detach = () => {};
  const end = (last = '') => {
    if (ended) return;
    ended = true;
    clearInterval(keepAlive);
    untrack();
    detach();
    if (last) sink.write(last);
    sink.end();
  };
  const untrack = realtime.track({
    channel,
    member: who.userId,
    transport: 'sse',
    // A restart: reconnect after a jittered pause (the stream's `retry:`), to another server.
    shutdown: () => end(`retry: ${realtime.retryHint()}\n: server restarting\n\n`),
  });
  sink.onClose(() => end());
  const keepAlive = setInterval(() => sink.write(': \n\n'), realtime.settings.keepAliveMs);
  keepAlive.unref();
  sink.write(`retry: ${realtime.retryHint()}\n\n`);
  const emit = (event: RealtimeEvent) => {
    if (ended) return;
    if (event.type === 'error') return end(`retry: ${realtime.retryHint()}\n${sseEvent(event)}`);
    sink.write(sseEvent(event));
    if (sink.buffered() > MAX_BUFFERED_BYTES) end();
  };
  detach = attach(realtime, channel, request, emit);
}
