import type { Backend } from '../backend.js';
import { RoundRobinStrategy } from './round-robin.js';
import { type PickContext, Strategy } from './strategy.js';

/**
 * Baseline for the lab: a server cookie inserted by the balancer, like HAProxy
 * `cookie SRV insert indirect nocache` (https://docs.haproxy.org/2.8/configuration.html#4-cookie):
 * - insert: the balancer sets the cookie when the client does not carry the right one;
 * - indirect: the cookie is removed from requests before they reach the server;
 * - nocache: a response that sets the cookie is marked `Cache-Control: private`, so a shared
 *   cache never hands one client's pin to everybody.
 * A pinned server that is draining keeps its pinned clients (HAProxy's drain keeps persistence);
 * one that is down, ejected or removed loses them, and they are re-pinned by round-robin
 * (HAProxy `option redispatch`). The cookie value is a hash of the server id, so it reveals no
 * internal address.
 *
 * @example
 * createBalancer({ backends, strategy: 'sticky-cookie', stickyCookie: 'SRV' });
 */
export class StickyCookieStrategy extends Strategy {
  readonly name = 'sticky-cookie';
  override readonly stripCookie: string;
  readonly #fallback = new RoundRobinStrategy();

  constructor(cookieName: string) {
    super();
    this.stripCookie = cookieName;
  }

  pick(candidates: readonly Backend[], ctx: PickContext): Backend | undefined {
    const pinned = this.#pinned(ctx);
    // A retiring server's pinned clients are the legacy unit's to route (legacy.ts): a pin
    // alone never reaches it from here.
    if (pinned?.healthy && !pinned.retiring && !pinned.isEjected(ctx.now) && !ctx.tried?.has(pinned))
      return pinned;
    return this.#fallback.pick(candidates, ctx);
  }

  override responseHeaders(backend: Backend, ctx: PickContext): readonly [string, string][] | undefined {
    if (readCookie(ctx.req?.headers.cookie, this.stripCookie) === backend.cookieValue) return undefined;
    return [
      ['set-cookie', `${this.stripCookie}=${backend.cookieValue}; Path=/; HttpOnly; SameSite=Lax`],
      ['cache-control', 'private'],
    ];
  }

  #pinned(ctx: PickContext): Backend | undefined {
    const value = readCookie(ctx.req?.headers.cookie, this.stripCookie);
    if (value === undefined) return undefined;
    return ctx.members.find((b) => b.cookieValue === value);
  }
}

/** The value of cookie `name` in a Cookie header, or undefined. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
