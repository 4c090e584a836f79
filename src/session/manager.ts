import { callStore } from './call-store.js';
import { SessionMetrics } from './metrics.js';
import { type ResolvedOptions, resolveOptions, type SessionOptions } from './options.js';
import { Session, type SessionContext } from './session.js';
import type { SessionSummary } from './store.js';

/**
 * Configuration done once (cookie attributes, timeouts, the store) and the
 * operations that are not about the current request: listing and revoking a
 * user's sessions, metrics.
 *
 * @example
 * const sessions = createSessions({ store: redisStore({ url: process.env.REDIS_URL }) });
 * const session = sessions.fromCookie(request.headers.get('cookie'), { secure: true });
 */
export class SessionManager {
  readonly metrics: SessionMetrics;
  readonly #ctx: SessionContext;

  constructor(options: SessionOptions) {
    const resolved = resolveOptions(options);
    this.metrics = new SessionMetrics(resolved.store.name);
    this.#ctx = { options: resolved, metrics: this.metrics };
  }

  get options(): ResolvedOptions {
    return this.#ctx.options;
  }

  /**
   * A lazy session for a request with this Cookie header. No store call happens
   * here. `onUse` runs once when the handler first uses the session: adapters
   * hold the response back from then on, so untouched requests cost nothing.
   */
  fromCookie(
    cookieHeader: string | null | undefined,
    request: { secure: boolean; onUse?: () => void },
  ): Session {
    const { cookie } = this.#ctx.options;
    const secure = cookie.isSecure(request.secure);
    return new Session(this.#ctx, cookie.readToken(cookieHeader, secure), secure, request.onUse);
  }

  /** The user's live sessions, newest activity first. */
  async listUserSessions(userId: string): Promise<SessionSummary[]> {
    const list = await callStore(this.metrics, 'listUserSessions', () =>
      this.#ctx.options.store.listByUser(userId, this.#ctx.options.now()),
    );
    return list.sort((a, b) => b.touchedAt - a.touchedAt);
  }

  /** Log one of the user's sessions out (a device in a "your sessions" page). */
  async revokeUserSession(userId: string, sessionId: string): Promise<boolean> {
    const done = await callStore(this.metrics, 'revokeUserSession', () =>
      this.#ctx.options.store.destroyForUser(userId, sessionId),
    );
    if (done) this.metrics.destroys++;
    return done;
  }

  /** "Log out everywhere": every session of the user, optionally except the current one. */
  async revokeUserSessions(userId: string, options: { except?: Session | string } = {}): Promise<number> {
    const except = typeof options.except === 'string' ? options.except : (options.except?.id ?? undefined);
    const count = await callStore(this.metrics, 'revokeUserSessions', () =>
      this.#ctx.options.store.destroyByUser(userId, except === undefined ? undefined : { except }),
    );
    this.metrics.destroys += count;
    return count;
  }

  /** The session metrics in Prometheus text format (prom-client's), for a `/metrics` endpoint. */
  prometheus(): Promise<string> {
    return this.metrics.prometheus();
  }

  /**
   * Adds the session metrics to the app's own prom-client `Registry`, so one `/metrics`
   * serves the app's metrics and unpinned's.
   * @example
   * import { collectDefaultMetrics, Registry } from 'prom-client';
   * const registry = new Registry();
   * collectDefaultMetrics({ register: registry });
   * sessions.registerMetrics(registry);
   * app.get('/metrics', async (_req, res) => res.type(registry.contentType).send(await registry.metrics()));
   */
  registerMetrics(registry: { registerMetric(metric: never): void }): void {
    this.metrics.register(registry as never);
  }

  async close(): Promise<void> {
    await this.#ctx.options.store.close?.();
  }
}

/**
 * @example
 * import { createSessions } from 'unpinned';
 * import { redisStore } from 'unpinned/redis';
 * const sessions = createSessions({ store: redisStore({ url: 'redis://127.0.0.1:6379' }) });
 */
export function createSessions(options: SessionOptions): SessionManager {
  return new SessionManager(options);
}
