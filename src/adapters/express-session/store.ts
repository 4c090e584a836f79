/**
 * An express-session `Store` backed by an unpinned store: an app keeps
 * express-session and its code, changes one line, and gets sessions keyed by a
 * hash of the sid (a dump yields no usable cookie), delta writes and, with
 * `userIdOf`, the per-user index ("log out everywhere").
 *
 * express-session is loaded when the store is created, not when this module is
 * imported: the read-through import in the same subpath does not need it.
 *
 * Semantics: each request's `set` writes only what that request changed,
 * measured against the snapshot taken when it loaded the session
 * (`createSession`): keys it set or changed, keys it deleted. Two requests
 * that set different keys both land; one key set by two requests keeps the
 * value of the save that ran last (last-writer-wins, docs/concurrency.md).
 * A session this request loaded that is gone when it saves (a logout on
 * another server) is not written again: the save succeeds without writing,
 * so the logout sticks. `touch` never re-creates a session either. Only a
 * session express-session generated in this request is created.
 * `all`, `length` and `clear` are not offered: the unpinned store interface has
 * no scan, and a scan of a shared store is not something to run per request.
 */
import { createRequire } from 'node:module';
import type { Request } from 'express';
import type { Store as ExpressStore, Session, SessionData } from 'express-session';
import { storeUnavailable, UnpinnedError } from '../../session/errors.js';
import type { SessionStore, SessionWrite, StoredSession } from '../../session/store.js';
import { sessionIdOf } from '../../session/token.js';
import { fromJson } from '../../session/values.js';
import { changes, jsonOf, type Loaded, userChange } from './snapshot.js';

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
  // The stored metadata of what `get` returned, until `createSession` wraps it.
  const fetched = new WeakMap<object, StoredSession>();
  // Session object → what its request loaded. A WeakMap, not a property: express-session
  // hashes the session's enumerable keys to decide whether to save it.
  const loaded = new WeakMap<object, Loaded>();

  const remember = (session: object, absoluteExpiresAt: number): void => {
    loaded.set(session, { json: jsonOf(session), userId: userIdOf(session), absoluteExpiresAt });
  };
  const userIdOf = (session: object): unknown => options.userIdOf?.(session as SessionData);

  const save = async (sid: string, session: Data): Promise<void> => {
    const id = sessionIdOf(sid);
    const now = Date.now();
    // Taken before the write: a change the handler makes while the write is on its way
    // is not in this save, so it must not count as saved (the next save writes it).
    const after: Loaded = { json: jsonOf(session), userId: userIdOf(session), absoluteExpiresAt: 0 };
    const before = loaded.get(session) ?? null;
    after.absoluteExpiresAt = before?.absoluteExpiresAt ?? now + absoluteMs;
    let result = await store.write(id, writeOf(before, after, session, now));
    if (result.status === 'exists' && before === null) {
      // A direct `store.set` of an existing sid with a plain object, not a session this
      // request generated: replace it, as express-session's own stores do.
      const current = await store.load(id);
      if (current) {
        const base: Loaded = {
          json: current.data,
          userId: current.userId,
          absoluteExpiresAt: current.absoluteExpiresAt,
        };
        after.absoluteExpiresAt = current.absoluteExpiresAt;
        result = await store.write(id, writeOf(base, after, session, now));
      }
    }
    if (result.status === 'exists') throw new Error('session id collision: express-session reused a sid');
    // 'gone': loaded, then destroyed by a logout while this request ran. Writing nothing
    // keeps it logged out; express-session is told the save went well, since the
    // session it would save no longer exists.
    if (result.status === 'ok') loaded.set(session, after);
  };

  const writeOf = (before: Loaded | null, after: Loaded, session: Data, now: number): SessionWrite => {
    const { set, delete: deleted } = before
      ? changes(before, after.json)
      : { set: [...after.json], delete: [] };
    const userId = options.userIdOf ? userChange(before?.userId, after.userId) : undefined;
    return {
      ...(before ? {} : { create: { createdAt: now } }),
      set,
      delete: deleted,
      absoluteExpiresAt: after.absoluteExpiresAt,
      expiresAt: Math.min(expiryOf(session, now), after.absoluteExpiresAt),
      touchedAt: now,
      now,
      ...(userId === undefined ? {} : { userId }),
    };
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
          fetched.set(session, stored);
          return session as unknown as SessionData;
        }),
        callback,
      );
    }

    /** express-session builds req.session here from what `get` returned: the moment to take the snapshot. */
    override createSession(req: Request, data: SessionData): Session & SessionData {
      const session = super.createSession(req, data);
      const stored = fetched.get(data);
      remember(session, stored?.absoluteExpiresAt ?? Date.now() + absoluteMs);
      return session;
    }

    override set(sid: string, session: SessionData, callback?: Callback): void {
      settle(save(sid, session as Data), callback);
    }

    override touch(sid: string, session: SessionData, callback?: Callback): void {
      const now = Date.now();
      // The cookie's rolling expiry, never past the absolute timeout of the session it loaded.
      const absolute = loaded.get(session)?.absoluteExpiresAt ?? Number.POSITIVE_INFINITY;
      // Conditional in the store: a touch of a destroyed session writes nothing.
      settle(
        store.touch(sessionIdOf(sid), now, Math.min(expiryOf(session, now), absolute)).then(() => {}),
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
