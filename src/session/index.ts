export { type CookieOptions, type SameSite, SessionCookie } from './cookie.js';
export { type ErrorCode, errorCodes, UnpinnedError } from './errors.js';
export { createSessions, SessionManager } from './manager.js';
export { SessionMetrics } from './metrics.js';
export type { SessionOptions } from './options.js';
export { type CommitOutcome, Session } from './session.js';
export type {
  IncrementResult,
  SessionStore,
  SessionSummary,
  SessionWrite,
  StoredSession,
  WriteResult,
} from './store.js';
export { generateToken, isWellFormedToken, sessionIdOf } from './token.js';
