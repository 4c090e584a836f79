/**
 * Fastify plugin: `request.session` on every request, committed in `onSend`,
 * which runs before Fastify writes the headers (for streamed payloads too), so
 * the session is durable before the response leaves.
 *
 * Wrapped with fastify-plugin so the decoration and hooks apply to the whole
 * app, not only to the encapsulation context the plugin is registered in.
 * https://fastify.dev/docs/latest/Reference/Plugins/#handle-the-scope
 */
import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { UnpinnedError } from '../../session/errors.js';
import type { SessionManager } from '../../session/manager.js';
import type { Session } from '../../session/session.js';
import { noStoreFor } from '../shared/no-store.js';
import { asUnpinned, committedError, errorBody } from '../shared/session-error.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** This request's session (lazy: no store call until used). */
    session: Session;
  }
}

export interface FastifyUnpinnedOptions {
  sessions: SessionManager;
  /**
   * Payload to send when the session cannot be committed (the store is down).
   * Default: the error's status (503) with Retry-After and a JSON body.
   */
  onStoreError?: (error: UnpinnedError, request: FastifyRequest, reply: FastifyReply) => string;
}

const plugin: FastifyPluginCallback<FastifyUnpinnedOptions> = (fastify, options, done) => {
  const { sessions } = options;
  const onStoreError = options.onStoreError ?? answerSessionError;
  // Declared up front so every request object has the same shape (Fastify's
  // advice for decorations); a reference type must start as null.
  fastify.decorateRequest('session', null as unknown as Session);

  fastify.addHook('onRequest', (request, reply, next) => {
    const onUse = () => {
      if (reply.sent) throw committedError();
    };
    request.session = sessions.fromCookie(request.headers.cookie, {
      secure: request.protocol === 'https',
      onUse,
    });
    next();
  });

  fastify.addHook('onSend', async (request, reply, payload) => {
    const session = request.session;
    if (!session?.used) return payload;
    try {
      const { setCookie } = await session.commit();
      if (setCookie) {
        reply.header('set-cookie', setCookie);
        const cacheControl = noStoreFor(reply.getHeader('cache-control'));
        if (cacheControl) reply.header('cache-control', cacheControl);
      }
      return payload;
    } catch (error) {
      // Nothing has been written yet: replace the handler's answer, headers and all.
      for (const name of Object.keys(reply.getHeaders())) reply.removeHeader(name);
      return onStoreError(asUnpinned(error), request, reply);
    }
  });
  done();
};

/** Default answer to a failed commit: its status (503 for an outage) with Retry-After, a short JSON body. */
export function answerSessionError(
  error: UnpinnedError,
  _request: FastifyRequest,
  reply: FastifyReply,
): string {
  reply.code(error.statusCode).headers({
    ...error.headers,
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
  });
  return errorBody(error);
}

/**
 * @example
 * import Fastify from 'fastify';
 * import { unpinned } from 'unpinned/fastify';
 * const app = Fastify();
 * await app.register(unpinned, { sessions });
 * app.get('/cart', async (request) => ({ cart: (await request.session.get('cart')) ?? [] }));
 */
export const unpinned = fp(plugin, { name: 'unpinned', fastify: '5.x' });
export default unpinned;
export { type FastifyRealtimeOptions, fastifyRealtime } from './realtime.js';
