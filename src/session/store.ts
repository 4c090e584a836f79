/**
 * The contract between the session core and a store. Small on purpose (Lucia's
 * adapter, undici's CacheStore): promise-returning methods, `null` for absent.
 * Stored shapes are kept apart from the public `Session`: a store sees session
 * ids (the SHA-256 of a token, never the token) and JSON text per top-level key.
 *
 * Every store passes the conformance suite in test/stores/conformance.ts.
 */

/** One session as a store keeps it. */
export interface StoredSession {
  /** Top-level session keys to their JSON text. */
  data: Map<string, string>;
  /** Epoch ms the session was created. */
  createdAt: number;
  /** Epoch ms the idle window was last refreshed. */
  touchedAt: number;
  /** Epoch ms after which the session is dead whatever its activity. */
  absoluteExpiresAt: number;
  /** User the session is bound to, or null. */
  userId: string | null;
}

/** One atomic write. Applied whole or not at all. */
export interface SessionWrite {
  /** Create the session; the write fails with `exists` if the id is taken. Without it, the
   *  session must still exist or the write fails with `gone` (a logout is never undone). */
  create?: { createdAt: number };
  /** Keys to write, with their JSON text. */
  set: ReadonlyArray<readonly [string, string]>;
  /** Keys to remove. */
  delete: readonly string[];
  /** Compare-and-set: each key must currently hold this JSON text (null: absent). */
  expect?: ReadonlyArray<readonly [string, string | null]>;
  /** New idle-window start (a touch folded into the write). */
  touchedAt?: number;
  /** Epoch ms the stored session expires (idle window capped by absolute expiry). */
  expiresAt: number;
  /** Bind to a user (string) or unbind (null); undefined leaves the binding alone. */
  userId?: string | null;
  /** Absolute expiry, needed by stores that index sessions per user. */
  absoluteExpiresAt: number;
  /** The caller's clock (epoch ms), for pruning expired index entries. */
  now: number;
}

export type WriteResult =
  | { status: 'ok' }
  /** The session does not exist (destroyed, revoked or expired): nothing was written. */
  | { status: 'gone' }
  /** `create` was asked but the id exists. */
  | { status: 'exists' }
  /** An `expect` did not hold; `current` is what the key holds now. */
  | { status: 'conflict'; key: string; current: string | null };

export type IncrementResult =
  | { status: 'ok'; value: number }
  | { status: 'gone' }
  /** The key holds something that is not a JSON number; nothing was written. */
  | { status: 'not-a-number' };

/** A user's session as listed by `listByUser`. */
export interface SessionSummary {
  /** The session id (hash of the token): safe to show, useless as a credential. */
  id: string;
  createdAt: number;
  touchedAt: number;
  absoluteExpiresAt: number;
}

export interface SessionStore {
  /** Short name for logs and metrics, e.g. `redis`, `memory`. */
  readonly name: string;
  /** False when sessions live in one process only (the sticky baseline). */
  readonly shared: boolean;

  load(id: string): Promise<StoredSession | null>;
  write(id: string, write: SessionWrite): Promise<WriteResult>;
  /** Atomically add `by` to a numeric key (absent counts as 0). */
  increment(id: string, key: string, by: number): Promise<IncrementResult>;
  /** Refresh the idle window of an existing session; false when it is gone. */
  touch(id: string, touchedAt: number, expiresAt: number): Promise<boolean>;
  /** Remove a session (and its user-index entry). With `graceMs`, it stays readable that long. */
  destroy(id: string, options?: { graceMs?: number }): Promise<boolean>;
  /** Live sessions bound to a user; entries for dead sessions are pruned on the way. */
  listByUser(userId: string, now: number): Promise<SessionSummary[]>;
  /** Remove the user's session `id` if it is bound to that user. */
  destroyForUser(userId: string, id: string): Promise<boolean>;
  /** Remove all of a user's sessions except `except`; returns how many went. */
  destroyByUser(userId: string, options?: { except?: string }): Promise<number>;
  /** Release connections the store opened itself. */
  close?(): Promise<void>;
}
