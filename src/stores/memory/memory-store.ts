/**
 * Sessions in this process's memory. This is exactly what sticky sessions are:
 * a second app server cannot see them and a restart loses them. It exists for
 * tests and as the sticky baseline the lab measures against, and says so.
 */
import type {
  IncrementResult,
  SessionStore,
  SessionSummary,
  SessionWrite,
  StoredSession,
  WriteResult,
} from '../../session/store.js';
import { fromJson } from '../../session/values.js';

interface Entry {
  session: StoredSession;
  expiresAt: number;
  /** Retired by regenerate: readable for its grace window, writable no more. */
  retired?: boolean;
}

export interface MemoryStoreOptions {
  /** Clock in epoch ms (tests inject one). */
  now?: () => number;
  /** Silence the one-process warning (tests and the sticky baseline know). */
  quiet?: boolean;
}

let warned = false;

export class MemoryStore implements SessionStore {
  readonly name = 'memory';
  readonly shared = false;
  readonly #sessions = new Map<string, Entry>();
  readonly #users = new Map<string, Set<string>>();
  readonly #now: () => number;
  #writesSinceSweep = 0;

  constructor(options: MemoryStoreOptions = {}) {
    this.#now = options.now ?? Date.now;
    if (!options.quiet && !warned) {
      warned = true;
      process.emitWarning(
        'memoryStore keeps sessions in this process only: another server cannot see them and a restart loses them. Use unpinned/redis (or unpinned/sqlite) for anything behind a load balancer.',
        { code: 'UNPINNED_MEMORY_STORE' },
      );
    }
  }

  /** Number of live sessions (for the lab and the dashboard). */
  get size(): number {
    this.#sweep();
    return this.#sessions.size;
  }

  async load(id: string): Promise<StoredSession | null> {
    const entry = this.#live(id);
    return entry ? copy(entry.session) : null;
  }

  async write(id: string, write: SessionWrite): Promise<WriteResult> {
    let entry = this.#live(id);
    if (write.create) {
      if (entry) return { status: 'exists' };
      const { createdAt } = write.create;
      const { absoluteExpiresAt } = write;
      entry = {
        session: { data: new Map(), createdAt, touchedAt: createdAt, absoluteExpiresAt, userId: null },
        expiresAt: 0,
      };
    } else if (!entry || entry.retired) {
      return { status: 'gone' };
    }
    for (const [key, expected] of write.expect ?? []) {
      const current = entry.session.data.get(key) ?? null;
      if (current !== expected) return { status: 'conflict', key, current };
    }
    const { session } = entry;
    for (const [key, json] of write.set) session.data.set(key, json);
    for (const key of write.delete) session.data.delete(key);
    if (write.touchedAt !== undefined) session.touchedAt = write.touchedAt;
    if (write.userId !== undefined) this.#bind(id, session, write.userId);
    entry.expiresAt = write.expiresAt;
    this.#sessions.set(id, entry);
    if (++this.#writesSinceSweep >= 1000) this.#sweep();
    return { status: 'ok' };
  }

  async increment(id: string, key: string, by: number): Promise<IncrementResult> {
    const entry = this.#live(id);
    if (!entry || entry.retired) return { status: 'gone' };
    const json = entry.session.data.get(key);
    // Unreadable text counts as absent, as a read sees it.
    const current = json === undefined ? { ok: false as const } : fromJson(json);
    if (current.ok && typeof current.value !== 'number') return { status: 'not-a-number' };
    const value = (current.ok ? (current.value as number) : 0) + by;
    entry.session.data.set(key, JSON.stringify(value));
    return { status: 'ok', value };
  }

  async touch(id: string, touchedAt: number, expiresAt: number): Promise<boolean> {
    const entry = this.#live(id);
    if (!entry || entry.retired) return false;
    entry.session.touchedAt = touchedAt;
    entry.expiresAt = expiresAt;
    return true;
  }

  async destroy(id: string, options: { graceMs?: number } = {}): Promise<boolean> {
    const entry = this.#live(id);
    if (!entry) return false;
    this.#bind(id, entry.session, null);
    if (options.graceMs) {
      entry.expiresAt = Math.min(entry.expiresAt, this.#now() + options.graceMs);
      entry.retired = true;
    } else this.#sessions.delete(id);
    return true;
  }

  async listByUser(userId: string, now: number): Promise<SessionSummary[]> {
    const out: SessionSummary[] = [];
    for (const id of this.#users.get(userId) ?? []) {
      const entry = this.#live(id);
      if (!entry || entry.session.absoluteExpiresAt <= now) continue;
      const { createdAt, touchedAt, absoluteExpiresAt } = entry.session;
      out.push({ id, createdAt, touchedAt, absoluteExpiresAt });
    }
    return out;
  }

  async destroyForUser(userId: string, id: string): Promise<boolean> {
    const entry = this.#live(id);
    if (!entry || entry.session.userId !== userId) return false;
    return this.destroy(id);
  }

  async destroyByUser(userId: string, options: { except?: string } = {}): Promise<number> {
    let count = 0;
    const now = this.#now();
    for (const id of [...(this.#users.get(userId) ?? [])]) {
      if (id === options.except) continue;
      const live = (this.#live(id)?.session.absoluteExpiresAt ?? 0) > now;
      if ((await this.destroy(id)) && live) count++;
    }
    return count;
  }

  #live(id: string): Entry | undefined {
    const entry = this.#sessions.get(id);
    if (entry && entry.expiresAt <= this.#now()) {
      this.#bind(id, entry.session, null);
      this.#sessions.delete(id);
      return undefined;
    }
    return entry;
  }

  #bind(id: string, session: StoredSession, userId: string | null): void {
    if (session.userId !== null) {
      const set = this.#users.get(session.userId);
      set?.delete(id);
      if (set?.size === 0) this.#users.delete(session.userId);
    }
    session.userId = userId;
    if (userId !== null) {
      const set = this.#users.get(userId) ?? new Set<string>();
      this.#users.set(userId, set);
      set.add(id);
    }
  }

  #sweep(): void {
    this.#writesSinceSweep = 0;
    for (const id of this.#sessions.keys()) this.#live(id);
  }
}

function copy(session: StoredSession): StoredSession {
  return { ...session, data: new Map(session.data) };
}

/**
 * @example
 * const sessions = createSessions({ store: memoryStore() }); // tests only: one process
 */
export function memoryStore(options?: MemoryStoreOptions): MemoryStore {
  return new MemoryStore(options);
}
