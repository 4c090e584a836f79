/**
 * Tables of the SQLite store. One row per session (metadata, expiry, user) and
 * one row per top-level session key, so a commit writes only the keys that
 * changed, as the Redis store writes hash fields. Ids are SHA-256 hashes of
 * tokens: a copy of the file yields no usable credential.
 */
import type BetterSqlite3 from 'better-sqlite3';
import type { Database } from './driver.js';

/** A prepared statement (named here so declaration files can refer to it). */
export type Statement<P extends unknown[], R = unknown> = BetterSqlite3.Statement<P, R>;

export function openSchema(db: Database): void {
  // WAL lets readers in other processes go on while one process writes; the
  // busy timeout makes a writer wait for the lock instead of failing at once.
  // synchronous=NORMAL is durable across an app crash (not a power cut) in WAL mode.
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(`
    CREATE TABLE IF NOT EXISTS unpinned_sessions (
      id TEXT PRIMARY KEY,
      created_at INTEGER NOT NULL,
      touched_at INTEGER NOT NULL,
      absolute_expires_at INTEGER NOT NULL,
      expires_at INTEGER NOT NULL,
      user_id TEXT
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS unpinned_sessions_user ON unpinned_sessions (user_id) WHERE user_id IS NOT NULL;
    CREATE INDEX IF NOT EXISTS unpinned_sessions_expiry ON unpinned_sessions (expires_at);
    CREATE TABLE IF NOT EXISTS unpinned_session_data (
      session_id TEXT NOT NULL,
      key TEXT NOT NULL,
      value TEXT NOT NULL,
      PRIMARY KEY (session_id, key)
    ) WITHOUT ROWID;
  `);
}

/** Prepared once per store: statements are compiled at configuration time, not per request. */
export function prepareStatements(db: Database): Statements {
  return {
    session: db.prepare<[string, number], SessionRow>(
      'SELECT created_at, touched_at, absolute_expires_at, user_id FROM unpinned_sessions WHERE id = ? AND expires_at > ?',
    ),
    data: db.prepare<[string], { key: string; value: string }>(
      'SELECT key, value FROM unpinned_session_data WHERE session_id = ?',
    ),
    value: db.prepare<[string, string], { value: string }>(
      'SELECT value FROM unpinned_session_data WHERE session_id = ? AND key = ?',
    ),
    insert: db.prepare<[string, number, number, number, number]>(
      'INSERT OR REPLACE INTO unpinned_sessions (id, created_at, touched_at, absolute_expires_at, expires_at) VALUES (?, ?, ?, ?, ?)',
    ),
    setValue: db.prepare<[string, string, string]>(
      'INSERT OR REPLACE INTO unpinned_session_data (session_id, key, value) VALUES (?, ?, ?)',
    ),
    deleteValue: db.prepare<[string, string]>(
      'DELETE FROM unpinned_session_data WHERE session_id = ? AND key = ?',
    ),
    expire: db.prepare<[number, string]>('UPDATE unpinned_sessions SET expires_at = ? WHERE id = ?'),
    touch: db.prepare<[number, number, string]>(
      'UPDATE unpinned_sessions SET touched_at = ?, expires_at = ? WHERE id = ?',
    ),
    bind: db.prepare<[string | null, string]>('UPDATE unpinned_sessions SET user_id = ? WHERE id = ?'),
    deleteSession: db.prepare<[string]>('DELETE FROM unpinned_sessions WHERE id = ?'),
    deleteData: db.prepare<[string]>('DELETE FROM unpinned_session_data WHERE session_id = ?'),
    byUser: db.prepare<[string], SummaryRow>(
      'SELECT id, created_at, touched_at, absolute_expires_at, expires_at FROM unpinned_sessions WHERE user_id = ?',
    ),
    expiredIds: db.prepare<[number, number], { id: string }>(
      'SELECT id FROM unpinned_sessions WHERE expires_at <= ? LIMIT ?',
    ),
  };
}

export interface Statements {
  session: Statement<[string, number], SessionRow>;
  data: Statement<[string], { key: string; value: string }>;
  value: Statement<[string, string], { value: string }>;
  insert: Statement<[string, number, number, number, number]>;
  setValue: Statement<[string, string, string]>;
  deleteValue: Statement<[string, string]>;
  expire: Statement<[number, string]>;
  touch: Statement<[number, number, string]>;
  bind: Statement<[string | null, string]>;
  deleteSession: Statement<[string]>;
  deleteData: Statement<[string]>;
  byUser: Statement<[string], SummaryRow>;
  expiredIds: Statement<[number, number], { id: string }>;
}

export interface SessionRow {
  created_at: number;
  touched_at: number;
  absolute_expires_at: number;
  user_id: string | null;
}

export interface SummaryRow {
  id: string;
  created_at: number;
  touched_at: number;
  absolute_expires_at: number;
  expires_at: number;
}
