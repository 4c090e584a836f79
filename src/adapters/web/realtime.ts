/**
 * Realtime for web-standard handlers (Hono, Next.js route handlers, Bun,
 * Deno): a `Request` in, a streaming `Response` out (SSE), or a JSON answer
 * (long-poll). WebSocket upgrades are runtime-specific and not offered here.
 */
import { serveLongPoll } from '../../realtime/long-poll.js';
import type { Realtime } from '../../realtime/realtime.js';
import { type EventSink, type Head, serveSse } from '../../realtime/sse.js';
import type { LiveRequest } from '../../realtime/transport.js';

function liveRequestOf(request: Request, secure: boolean): LiveRequest {
  return { url: new URL(request.url), header: (name) => request.headers.get(name) ?? undefined, secure };
}

function respond(head: Head): Response {
  return new Response(head.body ?? null, { status: head.status, headers: head.headers });
}

/**
 * @example
 * export const GET = (request: Request) => realtimeResponse(realtime, request);
 * // browser: new EventSource('/api/live?channel=user:42')
 */
export async function realtimeResponse(
  realtime: Realtime,
  request: Request,
  options: { isSecure?: (request: Request) => boolean } = {},
): Promise<Response> {
  const secure = options.isSecure ? options.isSecure(request) : request.url.startsWith('https:');
  const live = liveRequestOf(request, secure);
  if (!(request.headers.get('accept') ?? '').includes('text/event-stream')) {
    return respond(
      await serveLongPoll(realtime, live, (listener) => request.signal.addEventListener('abort', listener)),
    );
  }
  return new Promise<Response>((resolve) => {
    serveSse(realtime, live, (head) => {
      if (head.body !== undefined) {
        resolve(respond(head));
        return null;
      }
      const encoder = new TextEncoder();
      const closers: (() => void)[] = [];
      let controller!: ReadableStreamDefaultController<Uint8Array>;
      let open = true;
      const close = () => {
        if (!open) return;
        open = false;
        for (const c of closers) c();
      };
      const body = new ReadableStream<Uint8Array>({
        start: (c) => {
          controller = c;
        },
        cancel: close,
      });
      request.signal.addEventListener('abort', close);
      const sink: EventSink = {
        write: (chunk) => {
          if (open) controller.enqueue(encoder.encode(chunk));
        },
        end: () => {
          if (!open) return;
          close();
          controller.close();
        },
        // Past the high-water mark desiredSize goes negative by the bytes queued.
        buffered: () => Math.max(0, -(controller.desiredSize ?? 0)),
        onClose: (listener) => void closers.push(listener),
      };
      resolve(new Response(body, { status: head.status, headers: head.headers }));
      return sink;
    }).catch(() => resolve(new Response(null, { status: 500 })));
  });
}
