/**
 * Commit before respond, for node:http responses (Express, plain node:http).
 *
 * The session must be durable before the response headers leave, or a login
 * followed by a redirect can land on the old state. Headers leave on the first
 * writeHead/write/end, so those calls are held back while the commit runs (one
 * round trip) and replayed in order afterwards, with the Set-Cookie added. If the
 * commit fails, the held response is discarded and the client gets 503 instead of
 * a success whose session change was lost. A request that never used its session
 * pays nothing: the methods are restored on first use.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { UnpinnedError } from '../../session/errors.js';
import type { Session } from '../../session/session.js';

export type StoreErrorHandler = (error: UnpinnedError, req: IncomingMessage, res: ServerResponse) => void;

type Method = 'writeHead' | 'write' | 'end' | 'flushHeaders';
const METHODS: readonly Method[] = ['writeHead', 'write', 'end', 'flushHeaders'];

export function gateResponse(
  req: IncomingMessage,
  res: ServerResponse,
  session: Session,
  onError: StoreErrorHandler,
): void {
  const held: [Method, unknown[]][] = [];
  let committing = false;
  const target = res as unknown as Record<Method, unknown>;
  // Other middleware (compression, for one) may have wrapped these already:
  // restore exactly what was there, not the prototype's methods.
  const originals = METHODS.map((method) => [method, target[method]] as const);
  const restore = () => {
    for (const [method, original] of originals) target[method] = original;
  };
  const replay = () => {
    restore();
    for (const [method, args] of held) (res[method] as (...a: unknown[]) => unknown).apply(res, args);
  };
  for (const method of METHODS) {
    target[method] = function (this: ServerResponse, ...args: unknown[]) {
      if (!committing && !session.used) {
        // Never touched: nothing to commit. Mark it committed so a late write throws instead of vanishing.
        void session.commit();
        restore();
        return (res[method] as (...a: unknown[]) => unknown).apply(res, args);
      }
      held.push([method, args]);
      if (!committing) {
        committing = true;
        session.commit().then(
          ({ setCookie }) => {
            if (setCookie) appendSetCookie(res, setCookie);
            replay();
          },
          (error: unknown) => {
            restore();
            if (res.headersSent) {
              res.destroy(error as Error);
              return;
            }
            for (const name of res.getHeaderNames()) res.removeHeader(name);
            onError(asUnpinned(error), req, res);
          },
        );
      }
      return method === 'write' ? true : res;
    };
  }
}

function appendSetCookie(res: ServerResponse, value: string): void {
  const existing = res.getHeader('set-cookie');
  if (existing === undefined) res.setHeader('set-cookie', value);
  else res.setHeader('set-cookie', [...(Array.isArray(existing) ? existing : [String(existing)]), value]);
}

function asUnpinned(error: unknown): UnpinnedError {
  if (error instanceof UnpinnedError) return error;
  return new UnpinnedError('UNPINNED_ERR_STORE_UNAVAILABLE', 'The session could not be committed.', {
    cause: error,
    statusCode: 503,
    headers: { 'retry-after': '1' },
  });
}

/** Default answer to a session error: its status (503 for a store outage) with Retry-After, a short JSON body. */
export function answerSessionError(error: UnpinnedError, _req: IncomingMessage, res: ServerResponse): void {
  const body = JSON.stringify({ error: { code: error.code, message: publicMessage(error) } });
  res.writeHead(error.statusCode, {
    ...error.headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(body);
}

/** Outage details (hosts, ports) stay in logs; the client learns only what it can act on. */
function publicMessage(error: UnpinnedError): string {
  return error.statusCode === 503 ? 'Sessions are temporarily unavailable. Retry shortly.' : error.message;
}
