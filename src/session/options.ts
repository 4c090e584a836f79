import { type CookieOptions, SessionCookie } from './cookie.js';
import { invalidOption } from './errors.js';
import type { SessionStore } from './store.js';

export interface SessionOptions {
  /** Where sessions live: `redisStore(...)` for a shared store, `memoryStore()` for one process. */
  store: SessionStore;
  cookie?: CookieOptions;
  /** Seconds without activity after which a session ends. Default 86 400 (one day). */
  idleTimeout?: number;
  /** Seconds after creation (or regeneration) after which a session ends whatever its
   *  activity. Default 2 592 000 (30 days). */
  absoluteTimeout?: number;
  /** Share of the idle window that must pass before a read refreshes it (0..1). At the
   *  default 0.1, reads write at most once per 2.4 hours of a one-day window. */
  touchAfter?: number;
  /** Upper bound on a session's stored size in bytes (keys plus JSON values). Default 65 536. */
  maxSessionBytes?: number;
  /** Attempts of the compare-and-set loop in `session.update()`. Default 64. */
  maxUpdateAttempts?: number;
  /** Seconds the old token keeps reading after `regenerate()`, for requests already in
   *  flight. Default 0: the old token stops at once. */
  regenerateGrace?: number;
  /** `bindUser()` to a user other than the session's issues a new token first (as
   *  `regenerate()` does, keeping the data), unless this request already issued one: a token
   *  known before a login can never ride it (session fixation, OWASP ASVS 5.0 V7.2.4).
   *  Default true. */
  regenerateOnBind?: boolean;
  /** Clock in epoch ms; tests inject a fake one. */
  now?: () => number;
}

export interface ResolvedOptions {
  store: SessionStore;
  cookie: SessionCookie;
  idleMs: number;
  absoluteMs: number;
  touchAfterMs: number;
  maxSessionBytes: number;
  maxUpdateAttempts: number;
  regenerateGraceMs: number;
  regenerateOnBind: boolean;
  now: () => number;
}

export function resolveOptions(options: SessionOptions): ResolvedOptions {
  if (!options || typeof options.store?.load !== 'function') {
    throw invalidOption('store', 'a SessionStore such as redisStore() or memoryStore()', options?.store);
  }
  const idle = positive('idleTimeout', options.idleTimeout ?? 86_400);
  const absolute = positive('absoluteTimeout', options.absoluteTimeout ?? 2_592_000);
  const touchAfter = options.touchAfter ?? 0.1;
  if (!(touchAfter >= 0 && touchAfter <= 1)) invalid('touchAfter', 'a number from 0 to 1', touchAfter);
  const maxUpdateAttempts = options.maxUpdateAttempts ?? 64;
  if (!Number.isInteger(maxUpdateAttempts) || maxUpdateAttempts < 1) {
    invalid('maxUpdateAttempts', 'an integer >= 1', maxUpdateAttempts);
  }
  const grace = options.regenerateGrace ?? 0;
  if (!(grace >= 0 && Number.isFinite(grace))) invalid('regenerateGrace', 'seconds >= 0', grace);
  const clock = options.now ?? Date.now;
  return {
    store: options.store,
    cookie: new SessionCookie(options.cookie),
    idleMs: Math.round(idle * 1000),
    absoluteMs: Math.round(absolute * 1000),
    touchAfterMs: Math.round(idle * 1000 * touchAfter),
    maxSessionBytes: positive('maxSessionBytes', options.maxSessionBytes ?? 65_536),
    maxUpdateAttempts,
    regenerateGraceMs: Math.round(grace * 1000),
    regenerateOnBind: options.regenerateOnBind ?? true,
    // Whole milliseconds everywhere: stores keep integer times (Redis PEXPIREAT, the packed metadata).
    now: options.now ? () => Math.floor(clock()) : Date.now,
  };
}

function positive(name: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
    invalid(name, 'a positive number', value);
  return value;
}

function invalid(name: string, expected: string, got: unknown): never {
  throw invalidOption(name, expected, got);
}
