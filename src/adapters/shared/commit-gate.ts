/**
 * Commit before respond, for node:http responses (Express, plain node:http).
 *
 * The session must be durable before the response headers leave, or a login
 * followed by a redirect can land on the old state. Headers leave on the first
 * writeHead/write/end/flushHeaders, so once the handler uses its session those
 * calls are held back while the commit runs (one round trip) and replayed in
 * order afterwards, with the Set-Cookie added (and `Cache-Control: no-store`,
 * see no-store.ts). If the commit fails, the held
 * response is discarded and the client gets 503 instead of a success whose
 * session change was lost.
 *
 * Trade-off: the four methods are wrapped once on ServerResponse.prototype, and
 * one symbol-keyed property says which responses are gated. Patching each
 * response's methods instead (as express-session does) cost about 25 µs of CPU
 * per request here: own functions shadowing the prototype's make every call site
 * that sees both shapes slow. One data property, added at the same point to every
 * gated response, is one shared hidden-class transition; a WeakMap cost about 0.5 µs
 * more per response in a micro-benchmark (an ephemeron for the collector to trace). It is
 * set to undefined when done, never deleted: a delete would turn the response into
 * a dictionary-mode object. Wrapping the prototype also catches middleware that
 * captured `res.end` earlier (compression), which a per-request prototype swap
 * would miss. An ungated response pays one property read.
 */
import { type IncomingMessage, ServerResponse } from 'node:http';
import type { UnpinnedError } from '../../session/errors.js';
import type { Session } from '../../session/session.js';
import { noStoreFor } from './no-store.js';
import { asUnpinned, committedError, errorBody } from './session-error.js';

export type StoreErrorHandler = (error: UnpinnedError, req: IncomingMessage, res: ServerResponse) => void;

type Method = 'writeHead' | 'write' | 'end' | 'flushHeaders';
type Call = [original: (...args: unknown[]) => unknown, args: unknown[], method: Method];

interface Gate {
  req: IncomingMessage;
  session: Session;
  onError: StoreErrorHandler;
  held: Call[];
  /** performance.now() when the adapter first saw the request, when Server-Timing is on. */
  timedSince: number | undefined;
}

const GATE = Symbol('unpinned.gate');
type Gated = ServerResponse & { [GATE]?: Gate | undefined };
let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  const proto = ServerResponse.prototype as unknown as Record<Method, (...args: unknown[]) => unknown>;
  for (const method of ['writeHead', 'write', 'end', 'flushHeaders'] as const) {
    const original = proto[method];
    proto[method] = function gated(this: Gated, ...args: unknown[]) {
      const gate = this[GATE];
      if (gate === undefined) return original.apply(this, args);
      if (gate.held.length === 0) {
        // A read with nothing to write (the common request): the outcome is known now, so the
        // response goes on in this call, with no promise and no replay.
        const settled = gate.session.commitIfSettled();
        if (settled !== null) {
          this[GATE] = undefined;
          const headArgs = addHeaders(this, gate, settled.setCookie, method === 'writeHead' ? args : null);
          return original.apply(this, method === 'writeHead' ? headArgs : args);
        }
      }
      gate.held.push([original, args, method]);
      if (gate.held.length === 1) {
        gate.session
          .commit()
          .then(release(this, gate), fail(this, gate))
          // A bad call of the handler's (say res.write(42)) throws only when replayed:
          // answer it as node:http would have (500, or a cut connection), never crash.
          .catch((error: unknown) => replayFailed(this, error));
      }
      return method === 'write' ? true : this;
    };
  }
}

/**
 * The `onUse` hook for a request: gates the response, or refuses use after it started.
 * With `timedSince` (the request's start, performance.now()), the released response carries
 * a Server-Timing header with the session's load + commit time and the time until the head left.
 */
export function gateOnUse(
  req: IncomingMessage,
  res: ServerResponse,
  session: () => Session,
  onError: StoreErrorHandler,
  timedSince?: number,
): () => void {
  install();
  return () => {
    if (res.headersSent) throw committedError();
    (res as Gated)[GATE] = { req, session: session(), onError, held: [], timedSince };
  };
}

/**
 * `session;dur=…` is this request's session work (load + commit, the store round trips
 * included), `app;dur=…` the time from the adapter's start to the response head: what
 * browsers' developer tools show under Timing, and what the lab reads. Durations in ms (W3C
 * Server Timing), to the µs.
 */
function serverTiming(gate: Gate): string {
  const { loadMs, commitMs } = gate.session.timing;
  const app = performance.now() - gate.timedSince!;
  return `session;dur=${(loadMs + commitMs).toFixed(3)};desc="load+commit", app;dur=${app.toFixed(3)}`;
}

function release(res: ServerResponse, gate: Gate) {
  return ({ setCookie }: { setCookie: string | null }) => {
    (res as Gated)[GATE] = undefined;
    const first = gate.held.find(([, , method]) => method === 'writeHead');
    const args = addHeaders(res, gate, setCookie, first ? first[1] : null);
    if (first) first[1] = args;
    for (const [original, args, method] of gate.held) {
      // While held, headers look unsent, so code that writes headers "if not yet
      // sent" (compression's implicit writeHead on every write) may have queued
      // several: only the first can go out.
      if (method === 'writeHead' && res.headersSent) continue;
      original.apply(res, args);
    }
  };
}

/**
 * Adds the session's headers (Server-Timing, Set-Cookie with its no-store) to `res`. Headers given to
 * a writeHead() call would overwrite them: with that call's `writeHeadArgs`, they are folded into
 * `res` first, and the call's arguments without them are returned (else `writeHeadArgs` as is, or []).
 */
function addHeaders(
  res: ServerResponse,
  gate: Gate,
  setCookie: string | null,
  writeHeadArgs: unknown[] | null,
): unknown[] {
  const timed = gate.timedSince !== undefined;
  if (!timed && !setCookie) return writeHeadArgs ?? [];
  const args = writeHeadArgs ? foldHeaders(res, writeHeadArgs) : [];
  if (timed) res.appendHeader('server-timing', serverTiming(gate));
  if (setCookie) {
    appendSetCookie(res, setCookie);
    const cacheControl = noStoreFor(res.getHeader('cache-control'));
    if (cacheControl) res.setHeader('cache-control', cacheControl);
  }
  return args;
}

/** writeHead(status, [message], [headers]) → the same call without headers, which are set on `res`. */
function foldHeaders(res: ServerResponse, args: unknown[]): unknown[] {
  const last = args[args.length - 1];
  if (args.length < 2 || typeof last !== 'object' || last === null) return args;
  if (Array.isArray(last)) {
    // Raw form: [name, value, name, value, ...] or [[name, value], ...].
    const pairs = Array.isArray(last[0]) ? (last as [string, string][]) : chunk(last as string[]);
    for (const [name, value] of pairs) res.appendHeader(name, value);
  } else {
    for (const [name, value] of Object.entries(last as Record<string, unknown>)) {
      if (value === undefined) continue;
      if (name.toLowerCase() === 'set-cookie') res.appendHeader(name, value as string | string[]);
      else res.setHeader(name, value as string | number | string[]);
    }
  }
  return args.slice(0, -1);
}

function chunk(flat: string[]): [string, string][] {
  const pairs: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) pairs.push([flat[i]!, flat[i + 1]!]);
  return pairs;
}

function replayFailed(res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    res.destroy(error as Error);
    return;
  }
  try {
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    ServerResponse.prototype.writeHead.call(res, 500, { 'content-length': '0' });
    (ServerResponse.prototype.end as (this: ServerResponse) => void).call(res);
  } catch {
    res.destroy(error as Error);
  }
}

function fail(res: ServerResponse, gate: Gate) {
  return (error: unknown) => {
    (res as Gated)[GATE] = undefined;
    if (res.headersSent) {
      res.destroy(error as Error);
      return;
    }
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    gate.onError(asUnpinned(error), gate.req, res);
  };
}

function appendSetCookie(res: ServerResponse, value: string): void {
  const existing = res.getHeader('set-cookie');
  if (existing === undefined) res.setHeader('set-cookie', value);
  else res.setHeader('set-cookie', [...(Array.isArray(existing) ? existing : [String(existing)]), value]);
}

/** Default answer to a session error: its status (503 for a store outage) with Retry-After, a short JSON body. */
export function answerSessionError(error: UnpinnedError, _req: IncomingMessage, res: ServerResponse): void {
  const body = errorBody(error);
  // Straight to node:http: middleware that wrapped this response (compression)
  // already committed to encoding the handler's body, not this one.
  ServerResponse.prototype.writeHead.call(res, error.statusCode, {
    ...error.headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  (ServerResponse.prototype.end as (this: ServerResponse, chunk: string) => void).call(res, body);
}
