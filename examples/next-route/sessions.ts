/**
 * One session manager per process, shared by the route handlers (in a Next.js
 * app: `lib/sessions.ts`). Redis when REDIS_URL is set, else the embedded
 * SQLite store, which every worker process on this host shares.
 */
import { createSessions } from 'unpinned';
import { redisStore } from 'unpinned/redis';
import { sqliteStore } from 'unpinned/sqlite';

export const store = process.env.REDIS_URL
  ? redisStore({ url: process.env.REDIS_URL })
  : sqliteStore({ path: process.env.SESSIONS_DB ?? 'sessions.db' });

export const sessions = createSessions({
  store,
  // Next.js sits behind a TLS-terminating proxy in production: force the Secure __Host- cookie there.
  cookie: { secure: process.env.NODE_ENV === 'production' },
});
