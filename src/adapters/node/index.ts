/**
 * Plain `node:http` adapter: a session for a request and its response, committed
 * before the response starts (the same gate as the Express adapter).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { UnpinnedError } from '../../session/errors.js';
import type { SessionManager } from '../../session/manager.js';
import type { Session } from '../../session/session.js';
import { answerSessionError, gateOnUse, type StoreErrorHandler } from '../shared/commit-gate.js';
import { isHttps } from '../shared/is-https.js';

export interface NodeSessionOptions {
  /** Answer when the session cannot be committed (default: 503 with Retry-After, JSON body). */
  onStoreError?: StoreErrorHandler;
  /**
   * Believe `X-Forwarded-Proto` (set this only behind a proxy you run, which
   * terminates TLS). Default false: only a TLS socket counts as HTTPS.
   */
  trustProxy?: boolean;
  /**
   * Add a `Server-Timing` header to responses that used the session: `session;dur=<ms>`
   * (load + commit) and `app;dur=<ms>` (from `nodeSession` to the response head). Off by default.
   */
  serverTiming?: boolean;
}

/**
 * The session of one request. Nothing is read until the handler uses it; from
 * then on the response is held until the session is committed.
 * @example
 * http.createServer(async (req, res) => {
 *   const session = nodeSession(sessions, req, res);
 *   res.end(`visits: ${await session.increment('visits')}`);
 * });
 */
export function nodeSession(
  sessions: SessionManager,
  req: IncomingMessage,
  res: ServerResponse,
  options: NodeSessionOptions = {},
): Session {
  let session: Session | undefined;
  const onUse = gateOnUse(
    req,
    res,
    () => session!,
    options.onStoreError ?? answerSessionError,
    options.serverTiming ? performance.now() : undefined,
  );
  session = sessions.fromCookie(req.headers.cookie, { secure: isHttps(req, options.trustProxy), onUse });
  return session;
}

/**
 * A `node:http` request listener whose handler gets the session as a third
 * argument. A session error the handler does not catch (the store is down)
 * becomes its status (503) with Retry-After; other errors become a 500.
 * @example
 * http.createServer(withSession(sessions, async (req, res, session) => {
 *   await session.set('seen', true);
 *   res.end('ok');
 * }));
 */
export function withSession(
  sessions: SessionManager,
  handler: (req: IncomingMessage, res: ServerResponse, session: Session) => unknown,
  options: NodeSessionOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  const onError = options.onStoreError ?? answerSessionError;
  return (req, res) => {
    const session = nodeSession(sessions, req, res, options);
    Promise.resolve()
      .then(() => handler(req, res, session))
      .catch((error: unknown) => {
        if (res.headersSent) return void res.destroy(error as Error);
        if (error instanceof UnpinnedError) return onError(error, req, res);
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('Internal Server Error');
      });
  };
}

export { type NodeRealtimeOptions, realtimeHandler, realtimeUpgrade } from './realtime.js';
export { answerSessionError, type StoreErrorHandler };
