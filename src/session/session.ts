/**
 * One request's view of one session. Nothing happens until the handler asks:
 * a request that never touches its session costs no store call, and no session
 * (nor cookie) exists until something is written.
 *
 * Reads cost one store round trip. Changes are buffered and committed as a delta
 * (only the keys that changed) in one atomic write before the response starts;
 * `update()` and `increment()` are the exceptions: they go to the store at once,
 * atomically, so concurrent read-modify-writes from many servers all land.
 * A write never re-creates a session that was destroyed meanwhile (logout sticks).
 */
import { activeTracer, inSpan, type Span } from '../observe/otel.js';
import { callStore } from './call-store.js';
import { UnpinnedError } from './errors.js';
import type { SessionMetrics } from './metrics.js';
import type { ResolvedOptions } from './options.js';
import type { IncrementResult, SessionWrite, StoredSession, WriteResult } from './store.js';
import { generateToken, sessionIdOf } from './token.js';
import { byteSize, checkKey, toJson } from './values.js';

export interface SessionContext {
  options: ResolvedOptions;
  metrics: SessionMetrics;
}

/** What the adapter must do after a commit. */
export interface CommitOutcome {
  /** A Set-Cookie header value to send, or null for none. */
  setCookie: string | null;
}

type State = 'unloaded' | 'none' | 'new' | 'live';

/**
 * @example
 * const cart = (await req.session.get<string[]>('cart')) ?? [];
 * await req.session.set('cart', [...cart, sku]);
 * await req.session.increment('views');
 */
export class Session {
  readonly #ctx: SessionContext;
  readonly #secure: boolean;
  readonly #presented: boolean;
  #state: State;
  #token: string | null;
  #id: string | null;
  #stored: StoredSession | null = null;
  #loading: Promise<void> | null = null;
  /** Pending changes: key → JSON text, or null for a deletion. */
  #changes = new Map<string, string | null>();
  #parsed = new Map<string, unknown>();
  #userChange: string | null | undefined = undefined;
  #cookie: 'keep' | 'set' | 'clear' = 'keep';
  #bytes = -1;
  #committed = false;
  #commitment: Promise<CommitOutcome> | null = null;
  #used = false;
  /** The browser holds a cookie for a session this request ended: clear it unless replaced. */
  #clearOnEmpty = false;
  /** This request issued the current token (a new session or a regenerate). */
  #fresh = false;
  /** Wall time this request spent loading and committing its session, ms (see `timing`). */
  #loadMs = 0;
  #commitMs = 0;

  readonly #onUse: (() => void) | undefined;

  /** @param onUse called once, synchronously, when the handler first uses the session (adapters gate the response then). */
  constructor(ctx: SessionContext, token: string | null, secure: boolean, onUse?: () => void) {
    this.#onUse = onUse;
    this.#ctx = ctx;
    this.#secure = secure;
    this.#presented = token !== null;
    this.#token = token;
    // Hashed on first use: a request that never touches its session pays nothing.
    this.#id = null;
    this.#state = token === null ? 'none' : 'unloaded';
  }

  /** Public id of the session (the hash of its token, never the token), or null while none exists. */
  get id(): string | null {
    return this.#state === 'live' || this.#state === 'new' || this.#state === 'unloaded'
      ? this.#sessionId()
      : null;
  }

  #sessionId(): string {
    this.#id ??= sessionIdOf(this.#token!);
    return this.#id;
  }

  /**
   * Wall time this request spent in session work so far, in milliseconds: `load` from reading the
   * token to the data being ready (the store round trip included), `commit` from the start of the
   * commit to its outcome. What `serverTiming` reports, and what the lab's overhead scenario
   * measures. Two clock reads per operation; no allocation until read.
   */
  get timing(): { loadMs: number; commitMs: number } {
    return { loadMs: this.#loadMs, commitMs: this.#commitMs };
  }

  /** True once the handler has used the session in a way that may need a commit. */
  get used(): boolean {
    return this.#used;
  }

  /** True when the request found a live session in the store. */
  async exists(): Promise<boolean> {
    await this.#load();
    return this.#state === 'live';
  }

  // get() and has() are the hot path of every read-only request: once the session is loaded they
  // answer without an async frame and its extra turn of the microtask queue. Bad keys still
  // reject (never throw), as from an async function.
  get<T = unknown>(key: string): Promise<T | undefined> {
    try {
      checkKey(key);
      if (this.#state !== 'unloaded') return Promise.resolve(this.#value(key) as T | undefined);
      // #load() throws when the response already started (the adapter's onUse): a rejection too.
      return this.#load().then(() => this.#value(key) as T | undefined);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  has(key: string): Promise<boolean> {
    try {
      checkKey(key);
      if (this.#state !== 'unloaded') return Promise.resolve(this.#json(key) !== undefined);
      return this.#load().then(() => this.#json(key) !== undefined);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** All keys and values, as a plain object. */
  async all(): Promise<Record<string, unknown>> {
    await this.#load();
    const entries: [string, unknown][] = [];
    for (const key of this.#keys()) {
      const value = this.#value(key);
      if (value !== undefined) entries.push([key, value]);
    }
    // fromEntries defines own properties: a stored key named "__proto__" stays data.
    return Object.fromEntries(entries);
  }

  /**
   * Buffer a write of `key` (committed before the response starts). Setting
   * `undefined` deletes the key. Last writer wins against a concurrent request
   * that sets the same key; use `update()` to merge instead.
   */
  async set(key: string, value: unknown): Promise<void> {
    checkKey(key);
    if (value === undefined) return this.delete(key);
    const json = toJson(key, value);
    await this.#beginWrite();
    this.#change(key, json);
    this.#parsed.delete(key);
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    await this.#beginWrite();
    if (this.#json(key) === undefined) return;
    this.#change(key, null);
  }

  /**
   * Atomic read-modify-write of one key, applied in the store at once with
   * compare-and-set and retried on conflict: N concurrent updates from N servers
   * all land. `fn` may run more than once, so it must be pure.
   * @example
   * await session.update<string[]>('cart', (cart = []) => [...cart, sku]);
   */
  update<T>(key: string, fn: (current: T | undefined) => T): Promise<T> {
    return this.#traced('update', (span) => this.#update(key, fn, span));
  }

  async #update<T>(key: string, fn: (current: T | undefined) => T, span: Span | undefined): Promise<T> {
    checkKey(key);
    await this.#beginWrite();
    if (this.#state === 'new') {
      const next = fn(this.#value(key) as T | undefined);
      await this.set(key, next);
      return next;
    }
    let current = this.#value(key) as T | undefined;
    for (let attempt = 1; attempt <= this.#ctx.options.maxUpdateAttempts; attempt++) {
      span?.setAttribute('unpinned.session.attempts', attempt);
      const next = fn(current);
      const json = next === undefined ? null : toJson(key, next);
      const expected = this.#stored!.data.get(key) ?? null;
      if (json !== null) this.#checkSize(key, json);
      const write = this.#baseWrite();
      if (json === null) write.delete = [key];
      else write.set = [[key, json]];
      write.expect = [[key, expected]];
      const result = await this.#write(write, 'update');
      if (result.status === 'ok') {
        this.#settle(key, json);
        return next;
      }
      if (result.status !== 'conflict') throw this.#ended(result);
      this.#ctx.metrics.conflictsRetried++;
      this.#settle(key, result.current);
      current = this.#value(key) as T | undefined;
      await backoff(attempt);
    }
    throw new UnpinnedError(
      'UNPINNED_ERR_UPDATE_CONFLICT',
      `session.update("${key}") lost the compare-and-set race ${this.#ctx.options.maxUpdateAttempts} times. Use session.increment() for counters, or raise maxUpdateAttempts.`,
      { statusCode: 409 },
    );
  }

  /**
   * Atomically add `by` to a numeric key in the store (absent counts as 0) and
   * return the new value. No retries needed: the store does the arithmetic.
   */
  increment(key: string, by = 1): Promise<number> {
    return this.#traced('increment', () => this.#increment(key, by));
  }

  async #increment(key: string, by: number): Promise<number> {
    checkKey(key);
    if (typeof by !== 'number' || !Number.isFinite(by)) {
      throw new UnpinnedError(
        'UNPINNED_ERR_NOT_A_NUMBER',
        `increment("${key}", by): by must be a finite number.`,
      );
    }
    await this.#beginWrite();
    // A new session, or a key this request already set: the request's own value is
    // the base (its set is last-writer-wins anyway), so add to it locally.
    if (this.#state === 'new' || this.#changes.has(key)) {
      const current = this.#value(key);
      if (current !== undefined && typeof current !== 'number') throw notANumber(key);
      const next = ((current as number | undefined) ?? 0) + by;
      await this.set(key, next);
      return next;
    }
    const { options, metrics } = this.#ctx;
    const result = await callStore(metrics, 'increment', () =>
      options.store.increment(this.#sessionId(), key, by),
    );
    metrics.writes++;
    if (result.status === 'not-a-number') throw notANumber(key);
    if (result.status === 'gone') throw this.#ended(result);
    this.#settle(key, String(result.value));
    return result.value;
  }

  /** The user this session is bound to, or null. */
  async userId(): Promise<string | null> {
    await this.#load();
    if (this.#userChange !== undefined) return this.#userChange;
    return this.#stored?.userId ?? null;
  }

  /**
   * Bind the session to a user (listed and revoked through the per-user index). Binding it to
   * another user than before is a login: unless this request already issued the token (a new
   * session, or `regenerate()` first), a new token is issued as `regenerate()` would, so a token
   * planted or seen before the login cannot ride it (session fixation). `regenerateOnBind: false`
   * turns that off.
   * @example
   * await req.session.bindUser(user.id); // a new token if the session was someone else's, or nobody's
   */
  async bindUser(userId: string): Promise<void> {
    if (typeof userId !== 'string' || userId.length === 0 || userId.length > 256) {
      throw new UnpinnedError(
        'UNPINNED_ERR_INVALID_KEY',
        'bindUser(userId): userId must be a string of 1 to 256 characters.',
      );
    }
    await this.#beginWrite();
    // https://cheatsheetseries.owasp.org/cheatsheets/Session_Management_Cheat_Sheet.html#renew-the-session-id-after-any-privilege-level-change
    if (this.#ctx.options.regenerateOnBind && !this.#fresh && this.#currentUser() !== userId) {
      await this.regenerate();
    }
    this.#userChange = userId;
  }

  /** The bound user as this request leaves it (a pending bind or unbind counts). */
  #currentUser(): string | null {
    return this.#userChange !== undefined ? this.#userChange : (this.#stored?.userId ?? null);
  }

  async unbindUser(): Promise<void> {
    await this.#beginWrite();
    if ((this.#stored?.userId ?? null) !== null || this.#userChange) this.#userChange = null;
  }

  /**
   * Issue a new token (call it on login and on any privilege change) so a token
   * known before cannot ride the new privileges (session fixation). The old token
   * stops working at once, or after `regenerateGrace` seconds.
   * @example
   * await req.session.regenerate();
   * await req.session.bindUser(user.id);
   */
  regenerate(options: { keepData?: boolean } = {}): Promise<void> {
    return this.#traced('regenerate', () => this.#regenerate(options));
  }

  async #regenerate(options: { keepData?: boolean }): Promise<void> {
    await this.#load();
    this.#assertOpen();
    this.#markUsed();
    const keep = options.keepData ?? true;
    const data = new Map<string, string>();
    if (keep) for (const key of this.#keys()) data.set(key, this.#json(key)!);
    // A pending unbind (null) is a change too: it must not fall back to the stored user.
    const userId = keep ? this.#currentUser() : null;
    const oldId = this.#state === 'live' ? this.#sessionId() : null;
    this.#startNew();
    for (const [key, json] of data) this.#changes.set(key, json);
    this.#bytes = -1;
    if (userId !== null) this.#userChange = userId;
    this.#ctx.metrics.regenerations++;
    if (oldId === null) return;
    // Create the new session before the old one goes: if the store fails between
    // the two, the user keeps a working session instead of losing it.
    this.#clearOnEmpty = true;
    const { store, regenerateGraceMs } = this.#ctx.options;
    try {
      await this.#commitNew();
      await callStore(this.#ctx.metrics, 'regenerate', () =>
        store.destroy(oldId, regenerateGraceMs > 0 ? { graceMs: regenerateGraceMs } : undefined),
      );
    } catch (error) {
      // Half a regenerate must not leave two live tokens: drop the new session
      // (best effort) and send no cookie; the browser keeps its old token, which
      // still works, and the login can be retried. Also when its create failed:
      // a create whose reply was lost may have landed. Not awaited: in an outage
      // the cleanup would wait out a second command deadline before the 503.
      const newId = this.#id;
      this.#becomeNone();
      this.#cookie = 'keep';
      this.#clearOnEmpty = false;
      if (newId) store.destroy(newId).catch(() => {});
      throw error;
    }
  }

  /** End the session in the store and clear the cookie. Later writes start a new session. */
  destroy(): Promise<void> {
    return this.#traced('destroy', () => this.#destroy());
  }

  async #destroy(): Promise<void> {
    this.#assertOpen();
    this.#markUsed();
    const id = this.#state === 'live' || this.#state === 'unloaded' ? this.#sessionId() : null;
    if (id !== null) {
      await callStore(this.#ctx.metrics, 'destroy', () => this.#ctx.options.store.destroy(id));
      this.#ctx.metrics.destroys++;
    }
    this.#becomeNone();
    if (this.#presented) {
      this.#cookie = 'clear';
      this.#clearOnEmpty = true;
    }
  }

  /**
   * Make the request's changes durable. Adapters call this before the response
   * headers leave; handlers may call it earlier (e.g. before a redirect). It is
   * idempotent, and the session is read-only afterwards.
   */
  commit(): Promise<CommitOutcome> {
    // Every caller gets the same outcome: a handler that commits before a redirect
    // and the adapter that commits before the headers leave both see the cookie,
    // and the adapter waits for a commit the handler did not await.
    if (!this.#commitment) {
      this.#committed = true;
      this.#commitment = this.#traced('commit', (span) => this.#commitOnce(span));
    }
    return this.#commitment;
  }

  /**
   * The commit's outcome now, when committing needs no store call: the session was loaded (or there
   * is none), nothing changed and no touch is due, which is every read-only request within the
   * touch interval. Commits then, exactly as `commit()` would, and returns what it returns; null when
   * the commit has work to do (call `commit()`). Lets an adapter release the response in the same
   * call instead of a turn of the event loop later.
   */
  commitIfSettled(): CommitOutcome | null {
    if (this.#commitment || this.#changes.size !== 0 || this.#userChange !== undefined) return null;
    const state = this.#state;
    if (state === 'live') {
      if (this.#touchDue(this.#ctx.options.now())) return null;
    } else if (state !== 'none') return null;
    // Spans keep their one shape (a commit span per commit): traced requests take the usual path.
    if (activeTracer('unpinned.session') !== undefined) return null;
    if (state === 'live') this.#ctx.metrics.touchesSkipped++;
    const outcome = { setCookie: this.#setCookie() };
    this.#committed = true;
    this.#commitment = Promise.resolve(outcome);
    return outcome;
  }

  async #commitOnce(span: Span | undefined): Promise<CommitOutcome> {
    // A failed load was already reported to the handler, which may have answered
    // without a session; there is nothing to commit then, so it is not rethrown.
    if (this.#loading) await this.#loading.catch(() => {});
    const started = performance.now();
    try {
      const writes = this.#ctx.metrics.writes;
      if (this.#state === 'new') await this.#commitNew();
      else if (this.#state === 'live') await this.#commitLive();
      if (span) {
        span.setAttribute('unpinned.session.written', this.#ctx.metrics.writes > writes);
        if (this.#state === 'live') span.setAttribute('unpinned.session.bytes', this.#size());
      }
      return { setCookie: this.#setCookie() };
    } finally {
      this.#commitMs += performance.now() - started;
    }
  }

  /**
   * Runs one operation in a span when the app registered an OpenTelemetry tracer provider.
   * Attributes are the store's name and counts, never the token, its hash or session data.
   */
  #traced<T>(operation: string, fn: (span: Span | undefined) => Promise<T>): Promise<T> {
    const tracer = activeTracer('unpinned.session');
    if (tracer === undefined) return fn(undefined);
    const attributes = { 'unpinned.session.store': this.#ctx.options.store.name };
    return inSpan(tracer, `unpinned.session.${operation}`, attributes, fn);
  }

  // --- loading -------------------------------------------------------------

  #load(): Promise<void> {
    if (this.#state !== 'unloaded') return Promise.resolve();
    this.#markUsed();
    this.#loading ??= this.#traced('load', (span) => this.#fetch(span));
    return this.#loading;
  }

  async #fetch(span: Span | undefined): Promise<void> {
    const { options, metrics } = this.#ctx;
    metrics.loads++;
    const started = performance.now();
    let stored: StoredSession | null;
    try {
      stored = await callStore(this.#ctx.metrics, 'load', () => options.store.load(this.#sessionId()));
    } finally {
      this.#loadMs += performance.now() - started;
    }
    if (stored === null || !isLive(stored, options.now(), options.idleMs)) {
      span?.setAttribute('unpinned.session.hit', false);
      metrics.misses++;
      // An unknown token is never adopted (fixation): a later write gets a fresh token.
      this.#becomeNone();
      return;
    }
    metrics.hits++;
    this.#stored = stored;
    this.#state = 'live';
    const bytes = this.#size();
    metrics.sessionBytes(bytes);
    span?.setAttributes({ 'unpinned.session.hit': true, 'unpinned.session.bytes': bytes });
  }

  // --- the merged view (store + pending changes) ---------------------------

  #json(key: string): string | undefined {
    const change = this.#changes.get(key);
    if (change !== undefined) return change === null ? undefined : change;
    return this.#stored?.data.get(key);
  }

  #value(key: string): unknown {
    if (this.#parsed.has(key)) return this.#parsed.get(key);
    const json = this.#json(key);
    if (json === undefined) return undefined;
    let value: unknown;
    try {
      value = JSON.parse(json);
    } catch {
      // Garbage in the store is ignored, never thrown at the user's request.
      this.#ctx.metrics.corruptValues++;
      return undefined;
    }
    this.#parsed.set(key, value);
    return value;
  }

  #keys(): Set<string> {
    const keys = new Set(this.#stored?.data.keys());
    for (const [key, json] of this.#changes) {
      if (json === null) keys.delete(key);
      else keys.add(key);
    }
    return keys;
  }

  // --- writing -------------------------------------------------------------

  async #beginWrite(): Promise<void> {
    await this.#load();
    this.#assertOpen();
    this.#markUsed();
    if (this.#state === 'none') this.#startNew();
  }

  #markUsed(): void {
    if (this.#used) return;
    this.#used = true;
    this.#onUse?.();
  }

  #assertOpen(): void {
    if (this.#committed) {
      throw new UnpinnedError(
        'UNPINNED_ERR_SESSION_COMMITTED',
        'The session was changed after it was committed (the response had started). Change it before sending the response.',
      );
    }
  }

  #startNew(): void {
    const now = this.#ctx.options.now();
    this.#token = generateToken();
    this.#id = sessionIdOf(this.#token);
    this.#stored = {
      data: new Map(),
      createdAt: now,
      touchedAt: now,
      absoluteExpiresAt: now + this.#ctx.options.absoluteMs,
      userId: null,
    };
    this.#changes.clear();
    this.#parsed.clear();
    this.#userChange = undefined;
    this.#bytes = 0;
    this.#state = 'new';
    this.#cookie = 'set';
    this.#fresh = true;
  }

  #becomeNone(): void {
    this.#state = 'none';
    this.#token = null;
    this.#id = null;
    this.#stored = null;
    this.#changes.clear();
    this.#parsed.clear();
    this.#userChange = undefined;
    this.#bytes = -1;
  }

  #change(key: string, json: string | null): void {
    if (json !== null) this.#checkSize(key, json);
    else this.#bytes = this.#size() - byteSize(key, this.#json(key) ?? '');
    this.#changes.set(key, json);
  }

  /** Enforces `maxSessionBytes` on the merged view, before anything reaches the store. */
  #checkSize(key: string, json: string): void {
    const old = this.#json(key);
    const next = this.#size() - (old === undefined ? 0 : byteSize(key, old)) + byteSize(key, json);
    if (next > this.#ctx.options.maxSessionBytes) {
      this.#ctx.metrics.tooLarge++;
      throw new UnpinnedError(
        'UNPINNED_ERR_SESSION_TOO_LARGE',
        `Writing "${key}" would make the session ${next} bytes, over maxSessionBytes (${this.#ctx.options.maxSessionBytes}). Keep large data outside the session and store its id.`,
        { statusCode: 413 },
      );
    }
    this.#bytes = next;
  }

  #size(): number {
    if (this.#bytes < 0) {
      let total = 0;
      // Right after a load (every read) nothing is pending: the stored fields are the session.
      if (this.#changes.size === 0) {
        for (const [key, json] of this.#stored?.data ?? []) total += byteSize(key, json);
      } else for (const key of this.#keys()) total += byteSize(key, this.#json(key)!);
      this.#bytes = total;
    }
    return this.#bytes;
  }

  /** Record that the store now holds `json` for `key` (after an atomic write). */
  #settle(key: string, json: string | null): void {
    const data = this.#stored!.data;
    if (json === null) data.delete(key);
    else data.set(key, json);
    this.#changes.delete(key);
    this.#parsed.delete(key);
    this.#bytes = -1;
  }

  #baseWrite(): SessionWrite {
    const stored = this.#stored!;
    return {
      set: [],
      delete: [],
      expiresAt: expiryOf(stored, this.#ctx.options.idleMs),
      absoluteExpiresAt: stored.absoluteExpiresAt,
      now: this.#ctx.options.now(),
    };
  }

  #deltaWrite(): SessionWrite | null {
    const write = this.#baseWrite();
    const set: [string, string][] = [];
    const del: string[] = [];
    for (const [key, json] of this.#changes) {
      if (json === null) {
        if (this.#stored!.data.has(key)) del.push(key);
      } else if (this.#stored!.data.get(key) !== json) set.push([key, json]);
    }
    const userChanged = this.#userChange !== undefined && this.#userChange !== this.#stored!.userId;
    if (set.length === 0 && del.length === 0 && !userChanged) return null;
    write.set = set;
    write.delete = del;
    if (userChanged) write.userId = this.#userChange;
    return write;
  }

  async #commitNew(): Promise<void> {
    const write = this.#deltaWrite();
    // Nothing to keep (e.g. set then delete): no session, no cookie.
    if (write === null) {
      this.#becomeNone();
      this.#cookie = this.#clearOnEmpty ? 'clear' : 'keep';
      return;
    }
    const stored = this.#stored!;
    write.create = { createdAt: stored.createdAt };
    let result = await this.#write(write, 'create');
    // A 256-bit collision is not expected in the lifetime of the universe; handle it anyway.
    while (result.status === 'exists') {
      this.#token = generateToken();
      this.#id = sessionIdOf(this.#token);
      result = await this.#write(write, 'create');
    }
    this.#ctx.metrics.creates++;
    this.#applied(write);
    this.#state = 'live';
  }

  /** A loaded session is touched (its idle expiry pushed back) once `touchAfter` of its idle window has passed. */
  #touchDue(now: number): boolean {
    return now - this.#stored!.touchedAt >= this.#ctx.options.touchAfterMs;
  }

  async #commitLive(): Promise<void> {
    const { options, metrics } = this.#ctx;
    const stored = this.#stored!;
    const now = options.now();
    const touchDue = this.#touchDue(now);
    const write = this.#deltaWrite();
    if (write === null) {
      if (!touchDue) {
        metrics.touchesSkipped++;
        return;
      }
      const expiresAt = Math.min(now + options.idleMs, stored.absoluteExpiresAt);
      metrics.touches++;
      const alive = await callStore(this.#ctx.metrics, 'touch', () =>
        options.store.touch(this.#sessionId(), now, expiresAt),
      );
      if (!alive) return this.#blocked();
      stored.touchedAt = now;
      if (this.#cookie === 'keep') this.#cookie = 'set';
      return;
    }
    if (touchDue) {
      write.touchedAt = now;
      write.expiresAt = Math.min(now + options.idleMs, stored.absoluteExpiresAt);
      metrics.touches++;
      if (this.#cookie === 'keep') this.#cookie = 'set';
    } else {
      metrics.touchesSkipped++;
    }
    const result = await this.#write(write, 'commit');
    if (result.status === 'gone') return this.#blocked();
    this.#applied(write);
  }

  #applied(write: SessionWrite): void {
    const stored = this.#stored!;
    for (const [key, json] of write.set) stored.data.set(key, json);
    for (const key of write.delete) stored.data.delete(key);
    if (write.userId !== undefined) stored.userId = write.userId;
    if (write.touchedAt !== undefined) stored.touchedAt = write.touchedAt;
    this.#changes.clear();
    this.#userChange = undefined;
  }

  /**
   * The session was destroyed while this request ran: its changes are dropped,
   * not resurrected. The cookie is left alone on purpose: after a `regenerate()`
   * elsewhere, clearing it here could delete the browser's new cookie if this
   * response arrives last.
   */
  #blocked(): void {
    this.#ctx.metrics.resurrectionsBlocked++;
    this.#becomeNone();
    this.#cookie = 'keep';
  }

  #ended(result: WriteResult | IncrementResult): UnpinnedError {
    this.#blocked();
    return new UnpinnedError(
      'UNPINNED_ERR_SESSION_ENDED',
      `The session ended while this request ran (status ${result.status}); the change was not saved. Treat the user as logged out.`,
      { statusCode: 409 },
    );
  }

  async #write(write: SessionWrite, operation: string): Promise<WriteResult> {
    const result = await callStore(this.#ctx.metrics, operation, () =>
      this.#ctx.options.store.write(this.#sessionId(), write),
    );
    this.#ctx.metrics.writes++;
    return result;
  }

  #setCookie(): string | null {
    const { cookie, now, idleMs } = this.#ctx.options;
    if (this.#cookie === 'clear') return cookie.clear(this.#secure);
    if (this.#cookie === 'set' && this.#state === 'live') {
      const maxAge = (expiryOf(this.#stored!, idleMs) - now()) / 1000;
      return cookie.serialize(this.#token!, maxAge, this.#secure);
    }
    return null;
  }
}

function expiryOf(stored: StoredSession, idleMs: number): number {
  return Math.min(stored.touchedAt + idleMs, stored.absoluteExpiresAt);
}

function isLive(stored: StoredSession, now: number, idleMs: number): boolean {
  return now < expiryOf(stored, idleMs);
}

function notANumber(key: string): UnpinnedError {
  return new UnpinnedError(
    'UNPINNED_ERR_NOT_A_NUMBER',
    `session.increment("${key}") found a value that is not a number. Use a key that only increment() writes.`,
    { statusCode: 409 },
  );
}

/** Jittered backoff between compare-and-set attempts, so racing servers spread out. */
function backoff(attempt: number): Promise<void> {
  if (attempt < 2) return Promise.resolve();
  const ms = Math.random() * Math.min(attempt, 20);
  return new Promise((resolve) => setTimeout(resolve, ms));
}
