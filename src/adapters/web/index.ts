/**
 * Web-standard adapter (Hono, Next.js route handlers, Bun, Deno, Cloudflare-style
 * `fetch` handlers): a `Request` in, a session out; after the handler, the
 * session is committed and its `Set-Cookie` applied to the `Response`.
 *
 * Commit before respond comes for free here: the response exists only as a
 * value until `applySession` resolves, so it cannot leave before the commit.
 */
import { UnpinnedError } from '../../session/errors.js';
import type { SessionManager } from '../../session/manager.js';
import type { Session } from '../../session/session.js';
import { noStoreFor } from '../shared/no-store.js';
import { asUnpinned, errorBody } from '../shared/session-error.js';

export interface WebSessionOptions {
  /**
   * Whether the request reached the app over HTTPS. Default: the scheme of
   * `request.url`. Behind a TLS-terminating proxy, read its header here.
   */
  isSecure?: (request: Request) => boolean;
}

/**
 * The session of a request (lazy: no store call until used).
 * @example
 * const session = sessionFromRequest(sessions, request);
 * const cart = (await session.get<string[]>('cart')) ?? [];
 */
export function sessionFromRequest(
  sessions: SessionManager,
  request: Request,
  options: WebSessionOptions = {},
): Session {
  const secure = options.isSecure ? options.isSecure(request) : request.url.startsWith('https:');
  return sessions.fromCookie(request.headers.get('cookie'), { secure });
}

/**
 * Commit the session and return the response to send: `response` with the
 * session's `Set-Cookie` (and `Cache-Control: no-store` unless it was already
 * private or no-store: no shared cache may keep a session cookie), or a 503 (with Retry-After) when the store could not
 * take the commit: never a success whose session change was lost.
 * @example
 * return applySession(session, Response.json({ ok: true }));
 */
export async function applySession(session: Session, response: Response): Promise<Response> {
  let setCookie: string | null;
  try {
    ({ setCookie } = await session.commit());
  } catch (error) {
    return sessionErrorResponse(error);
  }
  if (!setCookie) return response;
  // A copy, never the handler's object: its headers may be immutable
  // (Response.redirect(), a fetched response), and @hono/node-server's
  // lightweight Response writes out headers cached at construction, so a
  // header appended afterwards would silently not be sent.
  const copy = new Response(response.body, response);
  copy.headers.append('set-cookie', setCookie);
  const cacheControl = noStoreFor(copy.headers.get('cache-control'));
  if (cacheControl) copy.headers.set('cache-control', cacheControl);
  return copy;
}

/**
 * Wrap a `(request) => Response` handler (a Next.js route handler, a `fetch`
 * export): the handler gets the session, the client gets the committed result.
 * @example
 * export const POST = withSession(sessions, async (request, session) => {
 *   await session.update<string[]>('cart', (cart = []) => [...cart, 'sku-1']);
 *   return Response.json({ ok: true });
 * });
 */
export function withSession(
  sessions: SessionManager,
  handler: (request: Request, session: Session) => Response | Promise<Response>,
  options: WebSessionOptions = {},
): (request: Request) => Promise<Response> {
  return async (request) => {
    const session = sessionFromRequest(sessions, request, options);
    let response: Response;
    try {
      response = await handler(request, session);
    } catch (error) {
      if (error instanceof UnpinnedError) return sessionErrorResponse(error);
      throw error;
    }
    return applySession(session, response);
  };
}

/** The answer to a session error: its status (503 for a store outage) with Retry-After and a short JSON body. */
export function sessionErrorResponse(error: unknown): Response {
  const unpinned = asUnpinned(error);
  return new Response(errorBody(unpinned), {
    status: unpinned.statusCode,
    headers: {
      ...unpinned.headers,
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
    },
  });
}
export { realtimeResponse } from './realtime.js';
