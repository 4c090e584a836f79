/**
 * Realtime over plain `node:http` (and what is built on it): one request
 * listener that serves SSE (`Accept: text/event-stream`) and the stateless
 * long-poll, and one `upgrade` listener for WebSocket.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { serveLongPoll } from '../../realtime/long-poll.js';
import type { Realtime } from '../../realtime/realtime.js';
import { type EventSink, type Head, serveSse } from '../../realtime/sse.js';
import type { LiveRequest } from '../../realtime/transport.js';
import { websocketUpgrade } from '../../realtime/websocket.js';
import { isHttps } from '../shared/is-https.js';

export interface NodeRealtimeOptions {
  /** Believe `X-Forwarded-Proto` (only behind a proxy you run, which terminates TLS). */
  trustProxy?: boolean;
}

export function liveRequestOf(req: IncomingMessage, secure: boolean): LiveRequest {
  return {
    url: new URL(req.url ?? '/', 'http://localhost'),
    header: (name) => {
      const value = req.headers[name];
      return Array.isArray(value) ? value.join(', ') : value;
    },
    secure,
  };
}

function sinkOf(res: ServerResponse): EventSink {
  return {
    write: (chunk) => void res.write(chunk),
    end: () => res.end(),
    buffered: () => res.writableLength,
    onClose: (listener) => void res.once('close', listener),
  };
}

function answer(res: ServerResponse, head: Head): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(head.status, head.headers).end(head.body);
}

/** Serve one realtime request (SSE or long-poll) on a node `req`/`res` pair. */
export async function serveRealtime(
  realtime: Realtime,
  req: IncomingMessage,
  res: ServerResponse,
  request: LiveRequest,
): Promise<void> {
  if ((req.headers.accept ?? '').includes('text/event-stream')) {
    await serveSse(realtime, request, (head) => {
      if (head.body !== undefined) {
        answer(res, head);
        return null;
      }
      res.writeHead(head.status, head.headers);
      // Headers out now: the browser's EventSource opens on them, before any event.
      res.flushHeaders();
      return sinkOf(res);
    });
    return;
  }
  answer(res, await serveLongPoll(realtime, request, (listener) => res.once('close', listener)));
}

/** The listener every node-based adapter shares (Express's req and res are node's). */
export function nodeListener(
  realtime: Realtime,
  secureOf: (req: IncomingMessage) => boolean,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    serveRealtime(realtime, req, res, liveRequestOf(req, secureOf(req))).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  };
}

/**
 * A `node:http` listener for a realtime endpoint: SSE and long-poll.
 * @example
 * const live = realtimeHandler(realtime);
 * http.createServer((req, res) => (req.url?.startsWith('/live') ? live(req, res) : app(req, res)));
 * // browser: new EventSource('/live?channel=user:42')
 */
export function realtimeHandler(
  realtime: Realtime,
  options: NodeRealtimeOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  return nodeListener(realtime, (req) => isHttps(req, options.trustProxy));
}

/**
 * An `upgrade` listener for realtime over WebSocket (needs the `ws` package).
 * @example
 * server.on('upgrade', realtimeUpgrade(realtime));
 * // browser: new WebSocket('wss://shop.example/live?channel=room:lobby&epoch=…&since=41')
 */
export function realtimeUpgrade(
  realtime: Realtime,
  options: NodeRealtimeOptions = {},
): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  return websocketUpgrade(realtime, (req) => liveRequestOf(req, isHttps(req, options.trustProxy)));
}
