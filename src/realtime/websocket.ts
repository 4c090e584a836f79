/**
 * WebSocket transport (RFC 6455, through the `ws` library, an optional peer).
 *
 * The client connects to `…?channel=<c>&epoch=<e>&since=<offset>` (from its
 * last message, on any server) and receives one JSON text frame per event:
 * `{"type":"message","epoch":…,"offset":…,"data":…}`, `ready`, `reset`, or
 * `unavailable` (then close 1011). A server that stops sends close 1012
 * ("service restart", https://www.iana.org/assignments/websocket/websocket.xhtml#close-code-number)
 * so the client reconnects elsewhere; a client too slow to take its frames
 * gets 1013 ("try again later") and resumes from its offset.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket, WebSocketServer } from 'ws';
import { UnpinnedError } from '../session/errors.js';
import type { Realtime } from './realtime.js';
import type { RealtimeEvent } from './subscription.js';
import { type Admitted, admit, asError, attach, type LiveRequest } from './transport.js';

const MAX_BUFFERED_BYTES = 1 << 20;

/** One event as a JSON text frame; `data` is spliced in as the JSON it already is. */
export function wsFrame(event: RealtimeEvent): string {
  if (event.type === 'message') {
    return `{"type":"message","epoch":${JSON.stringify(event.epoch)},"offset":${event.offset},"data":${event.data}}`;
  }
  if (event.type === 'error')
    return JSON.stringify({ type: 'unavailable', code: event.code, message: event.message });
  return JSON.stringify(event);
}

async function loadWs(): Promise<typeof import('ws')> {
  try {
    return await import('ws');
  } catch (cause) {
    throw new UnpinnedError(
      'UNPINNED_ERR_MISSING_DEPENDENCY',
      'The realtime WebSocket transport needs the "ws" package (8.x): run `npm install ws`, or use SSE.',
      { cause },
    );
  }
}

/**
 * An `upgrade` listener for realtime over WebSocket. Requests the session may
 * not have are refused before the handshake (403), so a refused client never
 * holds an open socket.
 */
export function websocketUpgrade(
  realtime: Realtime,
  requestOf: (req: IncomingMessage) => LiveRequest,
): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  let server: Promise<WebSocketServer> | undefined;
  return (req, socket, head) => {
    socket.on('error', () => socket.destroy());
    server ??= loadWs().then((ws) => new ws.WebSocketServer({ noServer: true, maxPayload: 1024 }));
    const request = requestOf(req);
    Promise.all([server, admit(realtime, request)]).then(
      ([wss, who]) => wss.handleUpgrade(req, socket, head, (ws) => streamWs(realtime, who, request, ws)),
      (error: unknown) => refuse(socket, asError(error)),
    );
  };
}

function refuse(socket: Duplex, error: UnpinnedError): void {
  const body = JSON.stringify({ code: error.code, error: error.message });
  const retry = error.statusCode === 503 ? 'retry-after: 1\r\n' : '';
  socket.end(
    `HTTP/1.1 ${error.statusCode} ${error.statusCode === 503 ? 'Service Unavailable' : 'Refused'}\r\nconnection: close\r\ncontent-type: application/json\r\n${retry}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

function streamWs(realtime: Realtime, who: Admitted, request: LiveRequest, ws: WebSocket): void {
  let ended = false;
  let detach = () => {};
  const end = (code: number, reason: string) => {
    if (ended) return;
    ended = true;
    clearInterval(ping);
    untrack();
    detach();
    ws.close(code, reason);
  };
  const untrack = realtime.track({
    channel: who.channel,
    member: who.userId,
    transport: 'websocket',
    shutdown: () => end(1012, 'service restart'),
  });
  ws.on('close', () => end(1000, ''));
  ws.on('error', () => ws.terminate());
  // Frames from the client carry nothing; a ping keeps idle-timing proxies (and the balancer) from cutting.
  const ping = setInterval(() => ws.ping(), realtime.settings.keepAliveMs);
  ping.unref();
  const emit = (event: RealtimeEvent) => {
    if (ended) return;
    ws.send(wsFrame(event));
    if (event.type === 'error') end(1011, 'store unavailable');
    else if (ws.bufferedAmount > MAX_BUFFERED_BYTES) end(1013, 'too slow: resume from your offset');
  };
  detach = attach(realtime, who.channel, request, emit);
}
