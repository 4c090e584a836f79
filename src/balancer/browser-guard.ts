/**
 * Keeping browsers out of an HTTP API on loopback (the balancer's admin API, the system's control
 * API). Loopback is not a wall: every page a user opens can make the browser send requests to
 * 127.0.0.1. Three doors, three locks:
 *
 * - DNS rebinding: a page on `evil.example` re-points its name to 127.0.0.1 and then reads and
 *   writes the API as its own origin. Its requests still carry `Host: evil.example`, so an API
 *   that answers only a Host no attacker can claim (an IP literal, `localhost`) is out of reach.
 * - Cross-site "simple" requests (an HTML form, `fetch(..., { mode: 'no-cors' })`): they need no
 *   CORS preflight, so the browser sends them and only hides the answer. They can only carry
 *   `text/plain`, form or multipart bodies, so a body must be declared `application/json`.
 * - Whatever else a browser sends on a page's behalf carries `Sec-Fetch-Site` and, for anything
 *   but GET and HEAD, `Origin`: a state-changing request that says it came from another origin
 *   is refused. curl and the CLI send neither header and are never refused for their absence.
 *
 * https://fetch.spec.whatwg.org/#cors-safelisted-request-header
 * https://fetch.spec.whatwg.org/#origin-header
 * https://www.w3.org/TR/fetch-metadata/#sec-fetch-site-header
 * https://cheatsheetseries.owasp.org/cheatsheets/Cross-Site_Request_Forgery_Prevention_Cheat_Sheet.html
 */
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Why a browser page on another origin may have sent this state-changing request, or null when
 * nothing says so. GET, HEAD and OPTIONS are never refused here: they change nothing, and the
 * same-origin policy keeps their answers from other origins.
 * @example
 * const reason = crossOriginReason(req);
 * if (reason) return refuse(403, `cross-origin request refused (${reason})`);
 */
export function crossOriginReason(req: IncomingMessage): string | null {
  if (SAFE_METHODS.has(req.method ?? 'GET')) return null;
  const site = req.headers['sec-fetch-site'];
  // `none` is a request the user started (typed address, bookmark), never a page's.
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return `Sec-Fetch-Site: ${site}`;
  const origin = req.headers.origin;
  // These APIs speak plain HTTP only, so their own origin is http://<Host>.
  if (origin !== undefined && origin !== `http://${req.headers.host ?? ''}`) return `Origin: ${origin}`;
  return null;
}

/**
 * True when the request declares a JSON body: a content type no form and no preflight-free
 * cross-origin request can carry. Media types compare case-insensitively (RFC 9110 §8.3.1).
 * @example
 * if (!declaresJson(req)) return refuse(415, 'send JSON with Content-Type: application/json');
 */
export function declaresJson(req: IncomingMessage): boolean {
  return /^application\/json\s*(?:;|$)/i.test(req.headers['content-type'] ?? '');
}

/**
 * True when `host` (a Host header) is one a DNS-rebinding page cannot send: an IPv4 or IPv6
 * literal, or `localhost`, with or without a port. A rebinding page reaches loopback under its
 * own domain name, and its requests carry that name.
 * @example
 * rebindingSafeHost('127.0.0.1:9090'); // true
 * rebindingSafeHost('evil.example:9090'); // false
 */
export function rebindingSafeHost(host: string | undefined): boolean {
  if (!host) return false;
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end > 0 && isIP(host.slice(1, end)) === 6 && /^(?::\d+)?$/.test(host.slice(end + 1));
  }
  const colon = host.lastIndexOf(':');
  const name = colon === -1 ? host : host.slice(0, colon);
  if (colon !== -1 && !/^\d+$/.test(host.slice(colon + 1))) return false;
  return isIP(name) === 4 || name.toLowerCase() === 'localhost';
}

/** True for an address that only this machine can reach: 127.0.0.0/8, ::1, `localhost`. */
export function isLoopbackAddress(address: string): boolean {
  if (address.toLowerCase() === 'localhost' || address === '::1') return true;
  return isIP(address) === 4 && address.startsWith('127.');
}
