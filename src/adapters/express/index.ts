/**
 * Express adapter: `req.session` for every request, committed before the
 * response starts. A thin translation; all the behaviour lives in the core.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { SessionManager } from '../../session/manager.js';
import type { Session } from '../../session/session.js';
import { answerSessionError, gateOnUse, type StoreErrorHandler } from '../shared/commit-gate.js';

declare global {
  namespace Express {
    interface Request {
      /** This request's session (lazy: no store call until used). */
      session: Session;
    }
  }
}

export interface ExpressSessionOptions {
  /**
   * Answer when the session cannot be committed because the store is down.
   * Default: the error's status (503) with Retry-After and a JSON body.
   * Errors thrown by session calls inside handlers reach Express's error
   * handling as usual, with `statusCode` 503 and a `retry-after` header.
   */
  onStoreError?: StoreErrorHandler;
  /**
   * Add a `Server-Timing` header to responses that used the session:
   * `session;dur=<ms>` (load + commit) and `app;dur=<ms>` (from this middleware to the response
   * head). Off by default: it tells anyone who can read the response how long the store took.
   */
  serverTiming?: boolean;
}

/**
 * @example
 * const sessions = createSessions({ store: redisStore({ url: process.env.REDIS_URL }) });
 * app.use(unpinned(sessions));
 * app.post('/cart', async (req, res) => {
 *   await req.session.update<string[]>('cart', (cart = []) => [...cart, req.body.sku]);
 *   res.json({ ok: true });
 * });
 */
export function unpinned(sessions: SessionManager, options: ExpressSessionOptions = {}): RequestHandler {
  const onStoreError = options.onStoreError ?? answerSessionError;
  const timed = options.serverTiming === true;
  return function unpinnedSession(req: Request, res: Response, next: NextFunction): void {
    const onUse = gateOnUse(req, res, () => req.session, onStoreError, timed ? performance.now() : undefined);
    req.session = sessions.fromCookie(req.headers.cookie, { secure: req.secure, onUse });
    next();
  };
}

export { realtimeRoute, realtimeWebSocket } from './realtime.js';
export { answerSessionError };
