/**
 * A response that carries the session cookie must never sit in a shared cache (a CDN, a proxy):
 * served to the next visitor, it would hand them this user's session, or log them out. So every
 * adapter makes such a response `Cache-Control: no-store`, unless the app already said
 * `no-store` or `private` (which shared caches never store either). Responses without a session
 * cookie keep whatever the app set.
 *
 * https://cheatsheetseries.owasp.org/cheatsheets/Session_Management_Cheat_Sheet.html#web-content-caching-and-clear-site-data
 * https://www.rfc-editor.org/rfc/rfc9111#section-5.2.2.5 (no-store), #section-5.2.2.7 (private)
 */

/**
 * The Cache-Control to set on a response that carries the session cookie, given the one the app
 * set, or null to keep the app's.
 * @example
 * const cacheControl = noStoreFor(res.getHeader('cache-control'));
 * if (cacheControl) res.setHeader('cache-control', cacheControl);
 */
export function noStoreFor(current: string | number | readonly string[] | null | undefined): string | null {
  if (current === undefined || current === null) return 'no-store';
  const directives = String(current)
    .toLowerCase()
    .split(',')
    .map((d) => d.trim());
  // A bare `private` only: `private="set-cookie"` names fields, and caches that ignore the
  // qualifier would store the whole response.
  return directives.includes('no-store') || directives.includes('private') ? null : 'no-store';
}
