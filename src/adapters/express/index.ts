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
  return function unpinnedSession(req: Request, res: Response, next: NextFunction): void {
    const onUse = gateOnUse(req, res, () => req.session, onStoreError);
    req.session = sessions.fromCookie(req.headers.cookie, { secure: req.secure, onUse });
    next();
  };
}

export { realtimeRoute, realtimeWebSocket } from './realtime.js';
export { answerSessionError };
