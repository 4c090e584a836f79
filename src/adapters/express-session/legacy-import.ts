/**
 * Read-through import from express-session, so users stay logged in while an
 * app moves to unpinned. On a request that carries a validly signed legacy
 * cookie and no unpinned cookie, the legacy session is read, written into
 * unpinned under a new token, and only once that write is committed is the
 * legacy session deleted and its cookie cleared. The request then runs on the
 * new session, and the browser gets the new cookie with the same response.
 *
 * Why delete rather than leave it to expire: a legacy cookie that still worked
 * would be a second credential for the same login. A logout in unpinned could
 * then be undone by replaying the old cookie, which would import the session
 * again. The cost: if the response carrying the new cookie is lost, that user
 * logs in again. A legacy cookie whose session is gone is simply cleared.
 */
import { storeUnavailable, UnpinnedError } from '../../session/errors.js';
import type { SessionManager } from '../../session/manager.js';
import type { LegacySession, LegacySource } from './legacy-source.js';
import { legacySessionId } from './signature.js';

export interface LegacyImportOptions {
  sessions: SessionManager;
  /** Where legacy sessions live: `connectRedisSource({ client })` or `expressStoreSource(store)`. */
  legacy: LegacySource;
  /** express-session's `secret` (every secret of a rotation list, newest first). */
  secret: string | readonly string[];
  /** The legacy cookie. Default name `connect.sid`, path `/`. */
  legacyCookie?: { name?: string; path?: string; domain?: string };
  /** The user id to bind the new session to, read from the legacy data (e.g. `s => s.passport?.user`). */
  userIdOf?: (legacy: LegacySession) => unknown;
  /** Milliseconds a legacy read may take before the request fails with 503. Default 500. */
  timeout?: number;
}

export interface ImportResult {
  /** The Cookie header the request should continue with (the new session first). */
  cookieHeader: string;
  /** Set-Cookie values to add to the response: the new session, the cleared legacy cookie. */
  setCookies: string[];
}

export class LegacyImport {
  readonly #options: LegacyImportOptions;
  readonly #secrets: readonly string[];
  readonly #name: string;
  readonly #clear: string;

  constructor(options: LegacyImportOptions) {
    this.#options = options;
    this.#secrets = typeof options.secret === 'string' ? [options.secret] : [...options.secret];
    if (this.#secrets.length === 0 || this.#secrets.some((s) => typeof s !== 'string' || s.length === 0)) {
      throw new UnpinnedError(
        'UNPINNED_ERR_INVALID_OPTION',
        'Invalid option "secret": expected the secret (or list of secrets) express-session signed its cookies with.',
      );
    }
    const cookie = options.legacyCookie ?? {};
    this.#name = cookie.name ?? 'connect.sid';
    this.#clear = `${this.#name}=; Path=${cookie.path ?? '/'}${cookie.domain ? `; Domain=${cookie.domain}` : ''}; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0`;
  }

  /**
   * What to do for a request with this Cookie header, or null when there is
   * nothing to import (the common case, decided without any store call).
   * Throws UNPINNED_ERR_STORE_UNAVAILABLE when either store cannot be asked;
   * nothing is deleted then.
   */
  async fromCookie(
    header: string | null | undefined,
    requestIsSecure: boolean,
  ): Promise<ImportResult | null> {
    if (!header?.includes(this.#name)) return null;
    const { sessions } = this.#options;
    const { cookie } = sessions.options;
    if (cookie.readToken(header, cookie.isSecure(requestIsSecure)) !== null) return null;
    const sid = legacySessionId(header, this.#name, this.#secrets);
    if (sid === null) return null;
    const legacy = await this.#read(sid);
    if (legacy === null) return { cookieHeader: header, setCookies: [this.#clear] };

    const session = sessions.fromCookie(null, { secure: requestIsSecure });
    for (const [key, value] of Object.entries(legacy)) {
      // express-session's cookie settings are its own; unpinned sets its cookie itself.
      if (key !== 'cookie' && value !== undefined && !key.startsWith('$')) await session.set(key, value);
    }
    const userId = this.#options.userIdOf?.(legacy);
    if (userId !== undefined && userId !== null) await session.bindUser(String(userId));
    const { setCookie } = await session.commit();
    // Committed: only now may the legacy session go.
    await this.#options.legacy.destroy(sid).catch((error: unknown) => {
      process.emitWarning(
        `unpinned: imported legacy session could not be deleted (${String(error)}); it expires on its own TTL.`,
        {
          code: 'UNPINNED_LEGACY_DELETE',
        },
      );
    });
    if (setCookie === null) return { cookieHeader: header, setCookies: [this.#clear] };
    return { cookieHeader: `${setCookie.split(';')[0]}; ${header}`, setCookies: [setCookie, this.#clear] };
  }

  async #read(sid: string): Promise<LegacySession | null> {
    const timeout = this.#options.timeout ?? 500;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.#options.legacy.get(sid),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${timeout} ms`)), timeout);
        }),
      ]);
    } catch (cause) {
      throw storeUnavailable('legacy session import', cause);
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * @example
 * const importer = legacyImport({
 *   sessions,
 *   legacy: connectRedisSource({ client: redisClient }),
 *   secret: process.env.SESSION_SECRET!,
 * });
 */
export function legacyImport(options: LegacyImportOptions): LegacyImport {
  return new LegacyImport(options);
}
