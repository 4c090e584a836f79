/**
 * An express-session `Store` backed by an unpinned store: an app keeps
 * express-session and its code, changes one line, and gets sessions keyed by a
 * hash of the sid (a dump yields no usable cookie), delta writes and, with
 * `userIdOf`, the per-user index ("log out everywhere").
 *
 * express-session is loaded when the store is created, not when this module is
 * imported: the read-through import in the same subpath does not need it.
 *
 * Semantics: `set` replaces the session's keys (express-session always sends the
 * whole session), writing only the keys whose JSON changed. A `set` that finds
 * the session destroyed by a concurrent logout writes nothing (logout sticks);
 * express-session cannot tell "new" from "destroyed" before that, so a request
 * that read nothing may still create a session, as with any express-session store.
 * `all`, `length` and `clear` are not offered: the unpinned store interface has
 * no scan, and a scan of a shared store is not something to run per request.
 */
import { createRequire } from 'node:module';
import type { Store as ExpressStore, SessionData } from 'express-session';
import { storeUnavailable, UnpinnedError } from '../../session/errors.js';
import type { SessionStore, SessionWrite } from '../../session/store.js';
import { sessionIdOf } from '../../session/token.js';
import { checkKey, fromJson } from '../../session/values.js';

export interface ExpressSessionStoreOptions {
  /** Seconds a session lives without a cookie expiry (express-session's `cookie.maxAge` unset). Default 86 400. */
  ttl?: number;
  /** Seconds after creation after which a session ends however busy. Default 30 days. */
  absoluteTimeout?: number;
  /** Bind sessions to a user, read from the session data (e.g. `s => s.passport?.user`). */
  userIdOf?: (session: SessionData) => unknown;
}

type Callback<T = void> = (error?: unknown, value?: T) => void;
type Data = SessionData & Record<string, unknown>;

const require = createRequire(import.meta.url);

function loadStoreClass(): typeof ExpressStore {
  try {
    return (require('express-session') as { Store: typeof ExpressStore }).Store;
  } catch (cause) {
    throw new UnpinnedError(
      'UNPINNED_ERR_MISSING_DEPENDENCY',
      "expressSessionStore() extends express-session's Store: run `npm install express-session`, or use unpinned/express without express-session.",
      { cause },
    );
  }
}

/**
 * @example
 * app.use(session({ secret, resave: false, saveUninitialized: false,
 *   store: expressSessionStore(redisStore({ client: redisClient })) }));
 */
export function expressSessionStore(
  store: SessionStore,
  options: ExpressSessionStoreOptions = {},
): ExpressStore {
  const Base = loadStoreClass();
  const ttlMs = (options.ttl ?? 86_400) * 1000;
  const absoluteMs = (options.absoluteTimeout ?? 2_592_000) * 1000;

  const expiryOf = (session: SessionData, now: number): number => {
    const expires = session.cookie?.expires;
    return expires ? new Date(expires).getTime() : now + ttlMs;
  };

  const save = async (sid: string, session: Data): Promise<void> => {
    const id = sessionIdOf(sid);
    const now = Date.now();
    const entries: [string, string][] = [];
    for (const [key, value] of Object.entries(session)) {
      checkKey(key);
      if (value !== undefined) entries.push([key, JSON.stringify(value)]);
    }
    const userId = options.userIdOf?.(session);
    const current = await store.load(id);
    const write: SessionWrite = {
      set: entries.filter(([key, json]) => current?.data.get(key) !== json),
      delete: current ? [...current.data.keys()].filter((key) => !(key in session)) : [],
      absoluteExpiresAt: current?.absoluteExpiresAt ?? now + absoluteMs,
      expiresAt: 0,
      touchedAt: now,
      now,
      ...(userId === undefined ? {} : { userId: userId === null ? null : String(userId) }),
    };
    write.expiresAt = Math.min(expiryOf(session, now), write.absoluteExpiresAt);
    if (!current) write.create = { createdAt: now };
    const result = await store.write(id, write);
    // 'gone': destroyed by a logout while this request ran; writing nothing keeps it logged out.
    if (result.status === 'exists') throw new Error('session id collision: express-session reused a sid');
  };

  class UnpinnedExpressStore extends Base {
    override get(sid: string, callback: Callback<SessionData | null>): void {
      settle(
        store.load(sessionIdOf(sid)).then((stored) => {
          if (!stored) return null;
          const session: Record<string, unknown> = {};
          for (const [key, json] of stored.data) {
            const parsed = fromJson(json);
            if (parsed.ok) session[key] = parsed.value;
          }
          return session as unknown as SessionData;
        }),
        callback,
      );
    }

    override set(sid: string, session: SessionData, callback?: Callback): void {
      settle(save(sid, session as Data), callback);
    }

    override touch(sid: string, session: SessionData, callback?: Callback): void {
      const now = Date.now();
      settle(
        store.touch(sessionIdOf(sid), now, expiryOf(session, now)).then(() => {}),
        callback,
      );
    }

    override destroy(sid: string, callback?: Callback): void {
      settle(
        store.destroy(sessionIdOf(sid)).then(() => {}),
        callback,
      );
    }
  }
  return new UnpinnedExpressStore();
}

/** Promise → express-session callback. Store failures carry 503 + Retry-After, which Express answers with. */
function settle<T>(promise: Promise<T>, callback: Callback<T> | undefined): void {
  promise.then(
    (value) => callback?.(undefined, value),
    (error: unknown) =>
      callback?.(error instanceof UnpinnedError ? error : storeUnavailable('express-session store', error)),
  );
}
