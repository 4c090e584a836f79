/**
 * Realtime for Express: a route handler for SSE and long-poll, and the
 * `upgrade` listener for WebSocket (Express has none of its own).
 */
import type { IncomingMessage } from 'node:http';
import type { Request, RequestHandler } from 'express';
import type { Realtime } from '../../realtime/realtime.js';
import { websocketUpgrade } from '../../realtime/websocket.js';
import { liveRequestOf, nodeListener } from '../node/realtime.js';

/**
 * @example
 * app.get('/live', realtimeRoute(realtime));       // EventSource('/live?channel=user:42'), or ?since= polls
 * server.on('upgrade', realtimeWebSocket(realtime)); // new WebSocket('/live?channel=room:lobby')
 */
export function realtimeRoute(realtime: Realtime): RequestHandler {
  // `req.secure` follows Express's own `trust proxy` setting.
  const listener = nodeListener(realtime, (req) => (req as Request).secure);
  return (req, res) => listener(req, res);
}

/** The WebSocket side; `secure` tells whether a request came over HTTPS (default: a TLS socket). */
export function realtimeWebSocket(
  realtime: Realtime,
  secure: (req: IncomingMessage) => boolean = (req) =>
    Boolean((req.socket as { encrypted?: boolean }).encrypted),
) {
  return websocketUpgrade(realtime, (req) => liveRequestOf(req, secure(req)));
}
