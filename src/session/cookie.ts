/**
 * The session cookie: reading the token out of a Cookie header and writing the
 * Set-Cookie that carries it. Attributes are computed once at configuration time.
 *
 * Security choices: always HttpOnly (scripts never see the token); SameSite=Lax by
 * default (CSRF on cross-site POSTs); when Secure, the `__Host-` prefix, which a
 * browser accepts only from a secure origin, with Path=/ and no Domain, so a
 * sibling subdomain cannot plant a session cookie (cookie tossing / fixation).
 * https://www.rfc-editor.org/rfc/rfc6265bis#name-the-__host-prefix
 */
import { invalidOption } from './errors.js';
import { isWellFormedToken } from './token.js';

export type SameSite = 'lax' | 'strict' | 'none';

export interface CookieOptions {
  /** Base name; `__Host-` (or `__Secure-` with a Domain) is prefixed when secure. Default `sid`. */
  name?: string;
  /** `true`, `false`, or `'auto'`: secure when the request came over HTTPS. Default `'auto'`. */
  secure?: boolean | 'auto';
  /** Default `'lax'`. `'none'` requires a secure cookie. */
  sameSite?: SameSite;
  /** Setting a Domain shares the cookie with subdomains and rules out the `__Host-` prefix. */
  domain?: string;
  /** Default `/`. */
  path?: string;
  /** Add the `Partitioned` attribute (CHIPS) for embedded third-party use. */
  partitioned?: boolean;
  /**
   * Default `true`: the cookie carries a `Max-Age` kept in step with the server-side expiry, so
   * a user stays logged in across a browser restart (until the idle or absolute timeout).
   * `false`: a browser-session cookie without `Max-Age`, dropped when the browser closes, as the
   * OWASP Session Management Cheat Sheet prefers. The server enforces both timeouts either way.
   */
  persistent?: boolean;
}

interface Variant {
  name: string;
  attributes: string;
}

const NAME_PATTERN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const PATH_PATTERN = /^\/[\x21-\x3a\x3c-\x7e]*$/;
const DOMAIN_PATTERN = /^\.?[A-Za-z0-9.-]+$/;

export class SessionCookie {
  readonly secureMode: boolean | 'auto';
  readonly #persistent: boolean;
  readonly #plain: Variant;
  readonly #secure: Variant;

  constructor(options: CookieOptions = {}) {
    const base = options.name ?? 'sid';
    if (!NAME_PATTERN.test(base)) invalid('cookie.name', 'a cookie-name token (RFC 6265)', base);
    const path = options.path ?? '/';
    if (!PATH_PATTERN.test(path)) invalid('cookie.path', 'a path starting with "/" without ";"', path);
    if (options.domain !== undefined && !DOMAIN_PATTERN.test(options.domain)) {
      invalid('cookie.domain', 'a host name', options.domain);
    }
    const sameSite = options.sameSite ?? 'lax';
    if (!['lax', 'strict', 'none'].includes(sameSite))
      invalid('cookie.sameSite', "'lax', 'strict' or 'none'", sameSite);
    this.secureMode = options.secure ?? 'auto';
    this.#persistent = options.persistent ?? true;
    if (sameSite === 'none' && this.secureMode === false) {
      invalid(
        'cookie.sameSite',
        "'lax' or 'strict' when cookie.secure is false (browsers drop SameSite=None without Secure)",
        sameSite,
      );
    }

    let attributes = `; Path=${path}`;
    if (options.domain) attributes += `; Domain=${options.domain}`;
    attributes += `; HttpOnly; SameSite=${sameSite[0]!.toUpperCase()}${sameSite.slice(1)}`;
    const hostPrefix = !options.domain && path === '/';
    this.#plain = { name: base, attributes };
    this.#secure = {
      name: `${hostPrefix ? '__Host-' : '__Secure-'}${base}`,
      attributes: `${attributes}; Secure${options.partitioned ? '; Partitioned' : ''}`,
    };
  }

  /** Whether a request over the given scheme gets the secure cookie. */
  isSecure(requestIsSecure: boolean): boolean {
    return this.secureMode === 'auto' ? requestIsSecure : this.secureMode;
  }

  name(secure: boolean): string {
    return (secure ? this.#secure : this.#plain).name;
  }

  /**
   * The session token in a Cookie header, or null. Malformed, oversized and
   * duplicated cookies are harmless: the first value under our name that has the
   * exact shape of a token wins (browsers send the most specific path first,
   * RFC 6265 §5.4), anything else is ignored without a store call.
   */
  readToken(header: string | undefined | null, secure: boolean): string | null {
    if (!header) return null;
    return findToken(header, this.name(secure));
  }

  /** Set-Cookie value that stores `token` for `maxAgeSeconds` (until the browser closes when not persistent). */
  serialize(token: string, maxAgeSeconds: number, secure: boolean): string {
    const variant = secure ? this.#secure : this.#plain;
    if (!this.#persistent) return `${variant.name}=${token}${variant.attributes}`;
    return `${variant.name}=${token}; Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}${variant.attributes}`;
  }

  /** Set-Cookie value that removes the cookie from the browser. */
  clear(secure: boolean): string {
    const variant = secure ? this.#secure : this.#plain;
    return `${variant.name}=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT${variant.attributes}`;
  }
}

function findToken(header: string, name: string): string | null {
  let start = 0;
  const length = header.length;
  while (start < length) {
    let end = header.indexOf(';', start);
    if (end === -1) end = length;
    const eq = header.indexOf('=', start);
    if (eq !== -1 && eq < end && header.slice(start, eq).trim() === name) {
      let value = header.slice(eq + 1, end).trim();
      if (value.length === 45 && value[0] === '"' && value[44] === '"') value = value.slice(1, -1);
      if (isWellFormedToken(value)) return value;
    }
    start = end + 1;
  }
  return null;
}

function invalid(name: string, expected: string, got: unknown): never {
  throw invalidOption(name, expected, got);
}
