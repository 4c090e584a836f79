/**
 * Legacy affinity: taking a fleet off sticky sessions without logging anyone out (DESIGN §11).
 *
 * An old server keeps its users' sessions in its own memory, which cannot be copied. So a
 * **retiring** server gets only the requests bound to it, and is removed once nobody is bound
 * to it any more (or at a cap). A request is bound to a retiring server by:
 * - a legacy session cookie (`cookie`, e.g. `connect.sid`) whose value this unit **learned** from
 *   that server's `Set-Cookie`: HAProxy's `stick store-response res.cook(...)` + `stick match
 *   req.cook(...)` (https://docs.haproxy.org/2.6/configuration.html#4.2-stick%20store-response);
 * - for sessions that existed before the server was marked retiring: the pin this balancer made
 *   itself (the sticky-cookie strategy's cookie) or a HAProxy-style server cookie (`serverCookie`,
 *   value = the server's id), seen together with a legacy cookie that is not learned yet: the
 *   pair is learned then, so the pin is read once per session.
 * Everything else (no legacy cookie, an unknown one, or one whose server is gone or down) goes to
 * the balanced pool. A pin to a retiring server on a request that went to the pool is cleared in
 * the response, so a session the client gets later from a stateless server is never taken for a
 * legacy one.
 *
 * Without `cookie`, pins alone bind (a server keeps its pinned clients), and a retiring server
 * counts one "session" while any pinned request was seen within the idle window.
 *
 * A session ends when a response clears its cookie (a logout: `Max-Age=0`, or `Expires` in the
 * past) or when it has not been seen for `idleMs` (set it to the old app's own idle timeout: the
 * old app has forgotten the session by then too). Because sessions that predate the marking are
 * seen only when their user comes back, a server is retired at zero sessions only once a whole
 * idle window has passed since it was marked; at `retireAfterMs` it is retired whatever its count,
 * and the sessions still bound to it are reported as forced out.
 *
 * Cost: the balancer asks this unit anything only while a retiring server exists; a request
 * without a Cookie header then costs one property read. The table holds at most `maxEntries`
 * (the least recently seen entry is evicted first, as HAProxy's stick tables do) and is kept in
 * the order entries were last seen, so expiry stops at the first live entry.
 */
import type { Backend } from './backend.js';
import type { Clock, TimerHandle } from './clock.js';
import { balancerError } from './errors.js';
import { readCookie } from './strategies/sticky-cookie.js';

export interface LegacySettings {
  /** Name of the old app's session cookie; undefined: pins alone bind. */
  cookie: string | undefined;
  /** HAProxy-style server cookie whose value names the server (its id). */
  serverCookie: string | undefined;
  /** The sticky-cookie strategy's pin cookie. */
  pinCookie: string;
  idleMs: number;
  /** Default cap of a retirement; null: none. */
  retireAfterMs: number | null;
  maxEntries: number;
}

/** Why a retiring server left: its sessions ended, or the cap came first. */
export type RetireReason = 'sessions-ended' | 'cap' | 'removed';

export interface RetireResult {
  id: string;
  reason: RetireReason;
  /** Sessions still bound to it when it was retired (always 0 unless `reason` is `cap`). */
  forcedOut: number;
}

/** One retiring server, as `balancer.legacy()` and the admin API's `GET /legacy` report it. */
export interface RetiringSnapshot {
  id: string;
  /** Live legacy sessions bound to it. */
  sessions: number;
  /** Milliseconds since it was marked retiring. */
  retiringForMs: number;
  /** Milliseconds until the cap retires it whatever its count; null without a cap. */
  capInMs: number | null;
  /** Milliseconds until it may retire at zero sessions (one idle window after the marking). */
  settleInMs: number;
}

export interface LegacySnapshot {
  cookie: string | null;
  idleMs: number;
  entries: number;
  maxEntries: number;
  evicted: number;
  retiring: RetiringSnapshot[];
  /** Every server retired so far: how and how many sessions were forced out. */
  retired: RetireResult[];
}

/** What the request path records on its exchange for the response (proxy.ts). */
export interface LegacyMark {
  /** The legacy cookie value the request carried, when it went to a retiring server. */
  legacyValue: string | undefined;
  /** The request carried a pin to a retiring server but went to the pool. */
  stalePin: boolean;
}

interface Entry {
  readonly key: string;
  readonly backend: Backend;
  seen: number;
}

interface Retiring {
  readonly backend: Backend;
  readonly since: number;
  readonly capAt: number | null;
  sessions: number;
  cap: TimerHandle | undefined;
  done: (result: RetireResult) => void;
}

export class LegacyAffinity {
  settings: LegacySettings;
  readonly #clock: Clock;
  readonly #onRetire: (result: RetireResult) => void;
  readonly #table = new Map<string, Entry>();
  readonly #retiring = new Map<Backend, Retiring>();
  readonly #retired: RetireResult[] = [];
  readonly #forcedOut = new Map<string, number>();
  #evicted = 0;
  #sweep: TimerHandle | undefined;
  /** True while a retiring server exists: the request path's only check otherwise. */
  active = false;

  constructor(settings: LegacySettings, clock: Clock, onRetire: (result: RetireResult) => void) {
    this.settings = settings;
    this.#clock = clock;
    this.#onRetire = onRetire;
  }

  /** Marks `backend` retiring; resolves when it is retired. */
  retire(backend: Backend, retireAfterMs = this.settings.retireAfterMs): Promise<RetireResult> {
    const existing = this.#retiring.get(backend);
    if (existing) return new Promise((resolve) => chain(existing, resolve));
    const now = this.#clock.now();
    return new Promise((resolve) => {
      const state: Retiring = {
        backend,
        since: now,
        capAt: retireAfterMs === null ? null : now + retireAfterMs,
        sessions: 0,
        cap: undefined,
        done: resolve,
      };
      if (retireAfterMs !== null)
        state.cap = this.#clock.setTimeout(() => this.#finish(state, 'cap'), retireAfterMs);
      this.#retiring.set(backend, state);
      backend.retiring = true;
      this.active = true;
      this.#scheduleSweep();
    });
  }

  /** New settings; only while no server is retiring (the table is empty then). */
  configure(settings: LegacySettings): void {
    if (this.active) throw balancerError('UNPINNED_ERR_LB_RETIRING', 'Legacy options cannot change now');
    this.settings = settings;
  }

  isRetiring(backend: Backend): boolean {
    return this.#retiring.has(backend);
  }

  /** Live legacy sessions bound to `backend` (0 for a server that is not retiring). */
  sessionsOf(backend: Backend): number {
    return this.#retiring.get(backend)?.sessions ?? 0;
  }

  forcedOutOf(id: string): number {
    return this.#forcedOut.get(id) ?? 0;
  }

  /** Servers that were retiring or retired, for the metrics' forced-out counter. */
  forcedOutCounts(): ReadonlyMap<string, number> {
    return this.#forcedOut;
  }

  /**
   * The retiring server this request is bound to, or undefined for the balanced pool. Called
   * only while `active`.
   */
  route(
    cookieHeader: string | undefined,
    members: readonly Backend[],
    tried: ReadonlySet<Backend> | undefined,
    mark: LegacyMark,
  ): Backend | undefined {
    if (!cookieHeader) return undefined;
    const { cookie } = this.settings;
    const pinned = this.#pinned(cookieHeader, members);
    const key = cookie === undefined ? pinned && pinKey(pinned) : readCookie(cookieHeader, cookie);
    if (key === undefined) {
      if (pinned) mark.stalePin = true;
      return undefined;
    }
    const now = this.#clock.now();
    let entry = this.#table.get(key);
    if (entry && now - entry.seen > this.settings.idleMs) {
      this.#drop(entry);
      entry = undefined;
    }
    if (!entry) {
      if (!pinned) return undefined;
      entry = this.#learn(key, pinned, now);
    }
    const backend = entry.backend;
    if (!backend.healthy || backend.isEjected(now) || tried?.has(backend)) {
      if (pinned) mark.stalePin = true;
      return undefined;
    }
    this.#touch(entry, now);
    mark.legacyValue = key;
    return backend;
  }

  /**
   * Reads a response: from a retiring server, learns or ends sessions by their `Set-Cookie`; to
   * a request that carried a stale pin, returns the header that clears it.
   */
  onResponse(
    backend: Backend,
    rawHeaders: readonly string[],
    mark: LegacyMark,
    extra: readonly [string, string][] | undefined,
  ): readonly [string, string][] | undefined {
    const retiring = this.#retiring.get(backend);
    const { cookie, pinCookie } = this.settings;
    if (retiring && cookie !== undefined) this.#readSetCookies(retiring, rawHeaders, mark.legacyValue);
    if (retiring || !mark.stalePin) return extra;
    // The sticky strategy re-pins the client itself; otherwise the pin names a server the client
    // no longer belongs to: forget it on the client too.
    if (extra?.some(([n, v]) => n === 'set-cookie' && v.startsWith(`${pinCookie}=`))) return extra;
    const clear: [string, string] = [
      'set-cookie',
      `${pinCookie}=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax`,
    ];
    return extra ? [...extra, clear] : [clear];
  }

  /** Forgets a server that left the balancer some other way (removed by hand). */
  forget(backend: Backend): void {
    const state = this.#retiring.get(backend);
    if (state) this.#finish(state, 'removed');
  }

  snapshot(): LegacySnapshot {
    const now = this.#clock.now();
    return {
      cookie: this.settings.cookie ?? null,
      idleMs: this.settings.idleMs,
      entries: this.#table.size,
      maxEntries: this.settings.maxEntries,
      evicted: this.#evicted,
      retiring: [...this.#retiring.values()].map((s) => ({
        id: s.backend.id,
        sessions: s.sessions,
        retiringForMs: now - s.since,
        capInMs: s.capAt === null ? null : Math.max(0, s.capAt - now),
        settleInMs: Math.max(0, s.since + this.settings.idleMs - now),
      })),
      retired: [...this.#retired],
    };
  }

  /** Ends expired sessions and retires servers whose count is zero; runs on a timer while active. */
  sweep(): void {
    const now = this.#clock.now();
    const idle = this.settings.idleMs;
    for (const entry of this.#table.values()) {
      // Entries are in last-seen order: the first live one ends the walk.
      if (now - entry.seen <= idle) break;
      this.#drop(entry);
    }
    for (const state of [...this.#retiring.values()]) this.#maybeDone(state, now);
  }

  /** Stops timers; entries are dropped. */
  close(): void {
    if (this.#sweep !== undefined) this.#clock.clearTimeout(this.#sweep);
    this.#sweep = undefined;
    for (const state of this.#retiring.values()) if (state.cap) this.#clock.clearTimeout(state.cap);
    this.#retiring.clear();
    this.#table.clear();
    this.active = false;
  }

  #pinned(cookieHeader: string, members: readonly Backend[]): Backend | undefined {
    const { pinCookie, serverCookie } = this.settings;
    const pin = readCookie(cookieHeader, pinCookie);
    let backend = pin === undefined ? undefined : members.find((b) => b.cookieValue === pin);
    if (!backend && serverCookie !== undefined) {
      const id = readCookie(cookieHeader, serverCookie);
      if (id !== undefined) backend = members.find((b) => b.id === id);
    }
    return backend && this.#retiring.has(backend) ? backend : undefined;
  }

  #readSetCookies(state: Retiring, raw: readonly string[], requestValue: string | undefined): void {
    const name = this.settings.cookie!;
    for (let i = 0; i < raw.length; i += 2) {
      if (raw[i]!.length !== 10 || raw[i]!.toLowerCase() !== 'set-cookie') continue;
      const parsed = parseSetCookie(raw[i + 1]!, name);
      if (!parsed) continue;
      const current = requestValue === undefined ? undefined : this.#table.get(requestValue);
      if (parsed.cleared) {
        // A logout: the session ends now, and its server need not wait for it.
        if (current) this.#drop(current);
        continue;
      }
      // A new value replaces the request's (express-session `regenerate` on login).
      if (current && current.key !== parsed.value) this.#drop(current);
      const known = this.#table.get(parsed.value);
      if (known) this.#touch(known, this.#clock.now());
      else this.#learn(parsed.value, state.backend, this.#clock.now());
    }
    this.#maybeDone(state, this.#clock.now());
  }

  #learn(key: string, backend: Backend, now: number): Entry {
    if (this.#table.size >= this.settings.maxEntries) {
      const oldest = this.#table.values().next().value as Entry;
      this.#drop(oldest);
      this.#evicted++;
    }
    const entry: Entry = { key, backend, seen: now };
    this.#table.set(key, entry);
    const state = this.#retiring.get(backend);
    if (state) state.sessions++;
    return entry;
  }

  #touch(entry: Entry, now: number): void {
    entry.seen = now;
    // Re-inserted at the end: the map stays in last-seen order.
    this.#table.delete(entry.key);
    this.#table.set(entry.key, entry);
  }

  #drop(entry: Entry): void {
    if (!this.#table.delete(entry.key)) return;
    const state = this.#retiring.get(entry.backend);
    if (state) state.sessions--;
  }

  #maybeDone(state: Retiring, now: number): void {
    if (state.sessions === 0 && now - state.since >= this.settings.idleMs)
      this.#finish(state, 'sessions-ended');
  }

  #finish(state: Retiring, reason: RetireReason): void {
    const backend = state.backend;
    if (this.#retiring.get(backend) !== state) return;
    if (state.cap) this.#clock.clearTimeout(state.cap);
    const forcedOut = reason === 'sessions-ended' ? 0 : state.sessions;
    for (const entry of [...this.#table.values()])
      if (entry.backend === backend) this.#table.delete(entry.key);
    this.#retiring.delete(backend);
    this.active = this.#retiring.size > 0;
    if (reason === 'cap') this.#forcedOut.set(backend.id, (this.#forcedOut.get(backend.id) ?? 0) + forcedOut);
    const result: RetireResult = { id: backend.id, reason, forcedOut };
    this.#retired.push(result);
    if (this.#retired.length > 100) this.#retired.shift();
    if (reason !== 'removed') this.#onRetire(result);
    state.done(result);
  }

  #scheduleSweep(): void {
    if (this.#sweep !== undefined) return;
    const every = Math.max(50, Math.min(1_000, Math.floor(this.settings.idleMs / 4)));
    const tick = () => {
      this.#sweep = undefined;
      this.sweep();
      if (this.active) this.#sweep = this.#clock.setTimeout(tick, every);
    };
    this.#sweep = this.#clock.setTimeout(tick, every);
  }
}

function chain(state: Retiring, resolve: (r: RetireResult) => void): void {
  const previous = state.done;
  state.done = (r) => {
    previous(r);
    resolve(r);
  };
}

function pinKey(backend: Backend): string {
  return `\u0000pin:${backend.id}`;
}

/**
 * The value a `Set-Cookie` gives cookie `name`, and whether it clears it (RFC 6265 §5.2.2: a
 * Max-Age of 0 or less, or §5.2.1 an Expires in the past, makes the browser delete it).
 */
export function parseSetCookie(
  header: string,
  name: string,
): { value: string; cleared: boolean } | undefined {
  const eq = header.indexOf('=');
  if (eq <= 0 || header.slice(0, eq).trim() !== name) return undefined;
  const semi = header.indexOf(';', eq);
  const value = header.slice(eq + 1, semi < 0 ? undefined : semi).trim();
  let cleared = value === '' || value === '""';
  if (!cleared && semi >= 0) {
    for (const attr of header.slice(semi + 1).split(';')) {
      const aeq = attr.indexOf('=');
      if (aeq < 0) continue;
      const key = attr.slice(0, aeq).trim().toLowerCase();
      const v = attr.slice(aeq + 1).trim();
      if (key === 'max-age' && Number(v) <= 0) cleared = true;
      // Expires is wall-clock time; the balancer's clock may be a monotonic one.
      if (key === 'expires' && Date.parse(v) < Date.now()) cleared = true;
    }
  }
  return { value, cleared };
}
