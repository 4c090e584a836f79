/**
 * Sessions in a SQLite file: the embedded store for one host, when there is no
 * Redis. Several app processes on the host may share one file.
 *
 * Trade-offs: better-sqlite3 is synchronous, which is the fastest way to use
 * SQLite from Node, but SQLite's own busy timeout would then make a process
 * that waits for another's write lock block its event loop for that long (every
 * request of the process stalls, not only the one that waits). So SQLite is
 * told not to wait at all, and a statement that finds the lock taken is tried
 * again a few milliseconds later from a timer, until `busyTimeout` has passed
 * and the request gets a 503: other requests are served meanwhile, and reads
 * go on anyway (WAL). Writes hold the lock for microseconds (one short
 * transaction each), so waits are short; a file on a network share is not
 * supported (SQLite's locking does not work there). Each write is one
 * BEGIN IMMEDIATE transaction: it takes the write lock before reading, so the
 * "still exists" check (logout sticks) and compare-and-set conditions are
 * checked and applied atomically across processes.
 */
import { invalidOption, storeUnavailable, UnpinnedError } from '../../session/errors.js';
import type {
  IncrementResult,
  SessionStore,
  SessionSummary,
  SessionWrite,
  StoredSession,
  WriteResult,
} from '../../session/store.js';
import { fromJson } from '../../session/values.js';
import { type Database, loadDriver } from './driver.js';
import { openSchema, prepareStatements, type Statements } from './schema.js';

export interface SqliteStoreOptions {
  /** Database file (created if missing), shared by every process on the host. `:memory:` for one process. */
  path: string;
  /**
   * Milliseconds a store call waits for another process's write lock before
   * failing with 503 (UNPINNED_ERR_STORE_UNAVAILABLE). The wait never blocks the
   * event loop. Default 5000.
   */
  busyTimeout?: number;
  /** Clock in epoch ms that expiry is judged by (tests inject one). */
  now?: () => number;
}

const SWEEP_EVERY = 500;
/** Pauses between attempts while the lock is taken: SQLite's own busy handler's steps, in ms. */
const RETRY_STEPS = [1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50];
/** A reserved key row marking a session retired by regenerate (session keys never start with "$"). */
const RETIRED = '$g';

export class SqliteStore implements SessionStore {
  readonly name = 'sqlite';
  readonly shared = true;
  readonly #db: Database;
  readonly #st: Statements;
  readonly #now: () => number;
  readonly #busyTimeout: number;
  #writesSinceSweep = 0;

  constructor(options: SqliteStoreOptions) {
    const Driver = loadDriver();
    const busyTimeout = options.busyTimeout ?? 5000;
    if (!(busyTimeout >= 0 && Number.isFinite(busyTimeout)))
      throw invalidOption('busyTimeout', 'milliseconds >= 0', busyTimeout);
    try {
      this.#db = new Driver(options.path, { timeout: busyTimeout });
    } catch (cause) {
      throw new UnpinnedError(
        'UNPINNED_ERR_INVALID_OPTION',
        `Invalid option "path": cannot open ${JSON.stringify(options.path)} as a SQLite database (${(cause as Error).message}). Use a file in an existing folder the app can write to.`,
        { cause },
      );
    }
    // At startup SQLite may wait for the lock itself: nothing is being served yet.
    openSchema(this.#db);
    // From now on it never waits: #locked() waits, off the event loop.
    this.#db.pragma('busy_timeout = 0');
    this.#busyTimeout = busyTimeout;
    this.#st = prepareStatements(this.#db);
    this.#now = options.now ?? Date.now;
  }

  load(id: string): Promise<StoredSession | null> {
    // A read transaction: the session row and its keys come from one snapshot.
    return this.#locked(
      'load',
      this.#db.transaction(() => {
        const row = this.#st.session.get(id, this.#now());
        if (!row) return null;
        const data = new Map<string, string>();
        // Keys starting with "$" are the store's own marks, not session data.
        for (const { key, value } of this.#st.data.iterate(id)) if (key[0] !== '$') data.set(key, value);
        return {
          data,
          createdAt: row.created_at,
          touchedAt: row.touched_at,
          absoluteExpiresAt: row.absolute_expires_at,
          userId: row.user_id,
        };
      }),
    );
  }

  async write(id: string, write: SessionWrite): Promise<WriteResult> {
    const result = await this.#immediate('write', () => this.#apply(id, write));
    if (++this.#writesSinceSweep >= SWEEP_EVERY) this.#sweep();
    return result;
  }

  increment(id: string, key: string, by: number): Promise<IncrementResult> {
    return this.#immediate('increment', (): IncrementResult => {
      if (!this.#writable(id)) return { status: 'gone' };
      const json = this.#st.value.get(id, key)?.value;
      // Unreadable text counts as absent, as a read sees it.
      const current = json === undefined ? { ok: false as const } : fromJson(json);
      if (current.ok && typeof current.value !== 'number') return { status: 'not-a-number' };
      const value = (current.ok ? (current.value as number) : 0) + by;
      this.#st.setValue.run(id, key, JSON.stringify(value));
      return { status: 'ok', value };
    });
  }

  touch(id: string, touchedAt: number, expiresAt: number): Promise<boolean> {
    return this.#immediate('touch', () => {
      if (!this.#writable(id)) return false;
      this.#st.touch.run(touchedAt, expiresAt, id);
      return true;
    });
  }

  destroy(id: string, options: { graceMs?: number } = {}): Promise<boolean> {
    return this.#immediate('destroy', () => {
      const now = this.#now();
      if (!this.#st.session.get(id, now)) return false;
      if (options.graceMs) {
        // Readable a little longer for requests in flight, but out of the user's index now.
        this.#st.bind.run(null, id);
        this.#st.expire.run(now + options.graceMs, id);
        // Retired: no more writes, which would outlive the window (see #writable).
        this.#st.setValue.run(id, RETIRED, '1');
      } else {
        this.#remove(id);
      }
      return true;
    });
  }

  listByUser(userId: string, now: number): Promise<SessionSummary[]> {
    return this.#locked('listByUser', () =>
      this.#st.byUser
        .all(userId)
        .filter((row) => row.expires_at > now && row.absolute_expires_at > now)
        .map((row) => ({
          id: row.id,
          createdAt: row.created_at,
          touchedAt: row.touched_at,
          absoluteExpiresAt: row.absolute_expires_at,
        })),
    );
  }

  destroyForUser(userId: string, id: string): Promise<boolean> {
    return this.#immediate('destroyForUser', () => {
      const row = this.#st.session.get(id, this.#now());
      if (row?.user_id !== userId) return false;
      this.#remove(id);
      return true;
    });
  }

  destroyByUser(userId: string, options: { except?: string } = {}): Promise<number> {
    return this.#immediate('destroyByUser', () => {
      const now = this.#now();
      let count = 0;
      for (const row of this.#st.byUser.all(userId)) {
        if (row.id === options.except) continue;
        // Dead sessions go too, but only live ones count as logged out.
        if (row.expires_at > now && row.absolute_expires_at > now) count++;
        this.#remove(row.id);
      }
      return count;
    });
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }

  /** Live and not retired by a regenerate's grace window. */
  #writable(id: string): boolean {
    return this.#st.session.get(id, this.#now()) !== undefined && !this.#st.value.get(id, RETIRED);
  }

  #apply(id: string, write: SessionWrite): WriteResult {
    const st = this.#st;
    const live = st.session.get(id, this.#now()) !== undefined;
    if (write.create) {
      if (live) return { status: 'exists' };
      // Keys left by an expired session under the same id must not leak into the new one.
      st.deleteData.run(id);
      const { createdAt } = write.create;
      const touchedAt = write.touchedAt ?? createdAt;
      st.insert.run(id, createdAt, touchedAt, write.absoluteExpiresAt, write.expiresAt);
    } else if (!live || st.value.get(id, RETIRED)) {
      return { status: 'gone' };
    } else if (write.touchedAt !== undefined) {
      st.touch.run(write.touchedAt, write.expiresAt, id);
    } else {
      st.expire.run(write.expiresAt, id);
    }
    for (const [key, expected] of write.expect ?? []) {
      const current = st.value.get(id, key)?.value ?? null;
      // Throwing rolls the transaction back: nothing of a failed write lands.
      if (current !== expected) throw new Conflict(key, current);
    }
    for (const [key, json] of write.set) st.setValue.run(id, key, json);
    for (const key of write.delete) st.deleteValue.run(id, key);
    if (write.userId !== undefined) st.bind.run(write.userId, id);
    return { status: 'ok' };
  }

  #remove(id: string): void {
    this.#st.deleteData.run(id);
    this.#st.deleteSession.run(id);
  }

  /** One BEGIN IMMEDIATE transaction: takes the write lock before reading, so check-then-write is atomic across processes. */
  #immediate<T>(operation: string, fn: () => T): Promise<T> {
    const transaction = this.#db.transaction(fn);
    return this.#locked(operation, () => {
      try {
        return transaction.immediate();
      } catch (error) {
        if (error instanceof Conflict)
          return { status: 'conflict', key: error.key, current: error.current } as T;
        throw error;
      }
    });
  }

  /**
   * Run `attempt` now and, while another connection holds the lock, again from
   * a timer, never waiting inside SQLite (which would block the event loop),
   * until `busyTimeout` has passed: then 503, with the last SQLITE_BUSY as cause.
   */
  #locked<T>(operation: string, attempt: () => T): Promise<T> {
    try {
      return Promise.resolve(attempt());
    } catch (error) {
      if (!isBusy(error)) return Promise.reject(error);
      return this.#retry(operation, attempt, error, performance.now() + this.#busyTimeout);
    }
  }

  async #retry<T>(operation: string, attempt: () => T, busy: unknown, until: number): Promise<T> {
    for (let step = 0; ; step++) {
      const left = until - performance.now();
      if (left <= 0 || !this.#db.open) {
        throw storeUnavailable(
          `SQLite ${operation}`,
          new Error(`another connection held the database lock for over ${this.#busyTimeout} ms`, {
            cause: busy,
          }),
        );
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(RETRY_STEPS[step] ?? 100, left)));
      try {
        return attempt();
      } catch (error) {
        if (!isBusy(error)) throw error;
        busy = error;
      }
    }
  }

  /**
   * Expired rows are deleted in small batches as writes happen: no timer, no
   * unbounded transaction. Housekeeping only: if another process holds the lock
   * now, a later write sweeps, and the write that triggered it still succeeds.
   */
  #sweep(): void {
    this.#writesSinceSweep = 0;
    try {
      this.#db
        .transaction(() => {
          for (const { id } of this.#st.expiredIds.all(this.#now(), SWEEP_EVERY)) this.#remove(id);
        })
        .immediate();
    } catch (error) {
      if (!isBusy(error)) throw error;
    }
  }
}

/** SQLITE_BUSY and its extended codes (BUSY_SNAPSHOT, BUSY_RECOVERY...): the lock is taken, try later. */
function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

/** Signals a failed compare-and-set out of a transaction, which rolls it back. */
class Conflict extends Error {
  constructor(
    readonly key: string,
    readonly current: string | null,
  ) {
    super('compare-and-set conflict');
  }
}

/**
 * @example
 * import { sqliteStore } from 'unpinned/sqlite';
 * const sessions = createSessions({ store: sqliteStore({ path: './sessions.db' }) });
 */
export function sqliteStore(options: SqliteStoreOptions): SqliteStore {
  return new SqliteStore(options);
}
