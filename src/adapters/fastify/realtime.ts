/**
 * Realtime for Fastify: a plugin with one route for SSE and long-poll and,
 * on the same path, WebSocket upgrades. The route hijacks the reply: a stream
 * that lives for hours is not a Fastify payload.
 */
import type { FastifyPluginCallback } from 'fastify';
import fp from 'fastify-plugin';
import type { Realtime } from '../../realtime/realtime.js';
import { websocketUpgrade } from '../../realtime/websocket.js';
import { liveRequestOf, serveRealtime } from '../node/realtime.js';

export interface FastifyRealtimeOptions {
  realtime: Realtime;
  /** Path of the endpoint. Default `/live`. */
  path?: string;
  /** Also answer WebSocket upgrades on `path` (needs `ws`). Default true. */
  websocket?: boolean;
}

const plugin: FastifyPluginCallback<FastifyRealtimeOptions> = (fastify, options, done) => {
  const { realtime } = options;
  const path = options.path ?? '/live';
  fastify.get(path, (request, reply) => {
    reply.hijack();
    const live = liveRequestOf(request.raw, request.protocol === 'https');
    serveRealtime(realtime, request.raw, reply.raw, live).catch(() => reply.raw.destroy());
  });
  if (options.websocket !== false) {
    const upgrade = websocketUpgrade(realtime, (req) =>
      liveRequestOf(req, Boolean((req.socket as { encrypted?: boolean }).encrypted)),
    );
    fastify.server.on('upgrade', (req, socket, head) => {
      if (new URL(req.url ?? '/', 'http://localhost').pathname === path) upgrade(req, socket, head);
    });
  }
  done();
};

/**
 * @example
 * await app.register(fastifyRealtime, { realtime, path: '/live' });
 */
export const fastifyRealtime = fp(plugin, { name: 'unpinned-realtime', fastify: '5.x' });
