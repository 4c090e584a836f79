/**
 * A virtual shop customer with a full cookie jar (the session cookie and, under
 * the sticky baseline, the balancer's server cookie). It keeps its own truth of
 * what it did and checks every answer against it: the oracle that counts lost
 * sessions and lost items exactly.
 *
 * The oracle only counts what is provably lost. A request that failed may or may
 * not have happened on the server, so after a failed add, remove or checkout the
 * next answer may legitimately show either outcome; extra items (an add that
 * landed although its answer was lost) are never counted as losses.
 */
import { CookieJar } from './cookie-jar.js';

/** What every JSON answer of the demo shop carries. */
export interface ShopAnswer {
  server: string;
  user: string | null;
  cart: Record<string, number>;
  orders: number;
}

/** One finished request, as the recorder sees it. */
export interface RequestRecord {
  /** performance.now() when the request ended. */
  at: number;
  latencyUs: number;
  /** The server that answered, or null when no answer came (network error, balancer error). */
  server: string | null;
  ok: boolean;
  /** Why it failed: the status and the balancer's error code, or the network error. */
  failure?: string;
  /** From the shop's Server-Timing: its session work (load + commit) and its time to the head, µs. */
  sessionUs?: number;
  appUs?: number;
}

export interface UserEvents {
  onRequest?(record: RequestRecord): void;
  onLoss?(kind: 'session' | 'items', count: number, at: number): void;
  /** A login answered, by the server that holds the new session; `sentAt`: when it was sent. */
  onLogin?(server: string, sentAt: number): void;
}

type Pending = { kind: 'remove'; sku: string } | { kind: 'checkout' } | null;

export class VirtualUser {
  readonly name: string;
  readonly base: string;
  readonly #jar = new CookieJar();
  readonly #events: UserEvents;
  /** What this customer knows it has in its cart. */
  expected: Record<string, number> = {};
  /** Orders this customer knows it placed in the current session. */
  expectedOrders = 0;
  loggedIn = false;
  requests = 0;
  failed = 0;
  sessionsLost = 0;
  itemsLost = 0;
  lastServer = '';
  /** Failed requests by cause (e.g. `503`, `502 UNPINNED_ERR_LB_BACKEND_FAILED`, `network TimeoutError`). */
  failures: Record<string, number> = {};
  /** A failed mutation that may have happened: the next answer may show it or not. */
  #pending: Pending = null;

  constructor(base: string, name: string, events: UserEvents = {}) {
    this.base = base;
    this.name = name;
    this.#events = events;
  }

  get items(): number {
    return sum(this.expected);
  }

  async #call(
    method: string,
    path: string,
    body?: unknown,
    accept: number[] = [],
  ): Promise<ShopAnswer | null> {
    this.requests++;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    const cookie = this.#jar.header();
    if (cookie) headers.cookie = cookie;
    const start = performance.now();
    let answer: ShopAnswer | null = null;
    let failure: string | undefined;
    let timing: ServerTiming | null = null;
    try {
      const res = await fetch(`${this.base}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(15_000),
      });
      this.#jar.store(res.headers.getSetCookie());
      timing = parseServerTiming(res.headers.get('server-timing'));
      if (res.ok || accept.includes(res.status)) answer = (await res.json()) as ShopAnswer;
      else {
        const code = res.headers.get('x-unpinned-error');
        failure = code ? `${res.status} ${code}` : String(res.status);
        await res.body?.cancel();
      }
    } catch (error) {
      failure = `network ${(error as Error).name}`;
    }
    const end = performance.now();
    if (failure) {
      this.failed++;
      this.failures[failure] = (this.failures[failure] ?? 0) + 1;
    } else if (answer) this.lastServer = answer.server;
    this.#events.onRequest?.({
      at: end,
      latencyUs: Math.max(1, Math.round((end - start) * 1000)),
      server: answer?.server ?? null,
      ok: answer !== null,
      ...(failure ? { failure } : {}),
      ...(answer && timing ? timing : {}),
    });
    return answer;
  }

  /** Compare the server's view with what this customer did; count what went missing. */
  #check(answer: ShopAnswer | null): void {
    if (!answer || !this.loggedIn) return;
    if (answer.user !== this.name) {
      // Logged out behind our back: the session and everything in it is gone.
      this.sessionsLost++;
      this.#lose('session', 1);
      this.#lose('items', this.items);
      this.loggedIn = false;
      this.expected = {};
      this.expectedOrders = 0;
      this.#pending = null;
      return;
    }
    const pending = this.#pending;
    this.#pending = null;
    if (pending?.kind === 'checkout' && answer.orders > this.expectedOrders) {
      // The failed checkout went through after all: the cart was emptied by us.
      this.expectedOrders = answer.orders;
      this.expected = { ...answer.cart };
      return;
    }
    let missing = 0;
    for (const [sku, qty] of Object.entries(this.expected)) {
      const allowed = pending?.kind === 'remove' && pending.sku === sku ? qty - 1 : qty;
      missing += Math.max(0, allowed - (answer.cart[sku] ?? 0));
    }
    this.#lose('items', missing);
    this.expected = { ...answer.cart };
    this.expectedOrders = answer.orders;
  }

  #lose(kind: 'session' | 'items', count: number): void {
    if (count <= 0) return;
    if (kind === 'items') this.itemsLost += count;
    this.#events.onLoss?.(kind, count, performance.now());
  }

  async login(): Promise<void> {
    const sentAt = performance.now();
    const answer = await this.#call('POST', '/api/login', { user: this.name });
    if (answer?.user === this.name) {
      this.#events.onLogin?.(answer.server, sentAt);
      this.loggedIn = true;
      this.expected = { ...answer.cart };
      this.expectedOrders = answer.orders;
      this.#pending = null;
    }
  }

  /** Log out on purpose: the session ends by the user's own hand, so nothing counts as lost. */
  async logout(): Promise<ShopAnswer | null> {
    const answer = await this.#call('POST', '/api/logout');
    if (answer) {
      this.loggedIn = false;
      this.expected = {};
      this.expectedOrders = 0;
      this.#pending = null;
    }
    return answer;
  }

  async add(sku: string): Promise<void> {
    if (!this.loggedIn) await this.login();
    if (!this.loggedIn) return;
    const answer = await this.#call('POST', '/api/cart/items', { sku });
    // Only a successful answer proves the add happened.
    if (answer) this.expected[sku] = (this.expected[sku] ?? 0) + 1;
    this.#check(answer);
  }

  async remove(sku: string): Promise<void> {
    if (!this.loggedIn) return;
    const answer = await this.#call('DELETE', `/api/cart/items/${encodeURIComponent(sku)}`);
    if (answer) decrement(this.expected, sku);
    else this.#pending = { kind: 'remove', sku };
    this.#check(answer);
  }

  async checkout(): Promise<void> {
    if (!this.loggedIn) return;
    // 409: nothing to check out; still a full answer with the server's view.
    const answer = await this.#call('POST', '/api/checkout', undefined, [409]);
    if (!answer) {
      this.#pending = { kind: 'checkout' };
      return;
    }
    if (answer.user === this.name && answer.orders > this.expectedOrders) {
      this.expectedOrders = answer.orders;
      this.expected = {};
    }
    this.#check(answer);
  }

  /** Browse the catalog: carries no session state, so there is nothing to check. */
  async browse(): Promise<void> {
    await this.#call('GET', '/api/catalog');
  }

  async look(): Promise<ShopAnswer | null> {
    const answer = await this.#call('GET', '/api/me');
    this.#check(answer);
    return answer;
  }
}

function sum(cart: Record<string, number>): number {
  let n = 0;
  for (const qty of Object.values(cart)) n += qty;
  return n;
}

function decrement(cart: Record<string, number>, sku: string): void {
  const qty = cart[sku] ?? 0;
  if (qty > 1) cart[sku] = qty - 1;
  else delete cart[sku];
}

type ServerTiming = { sessionUs: number; appUs: number };

/** `session;dur=0.123;desc="…", app;dur=0.456` (what unpinned's `serverTiming` option sends) → µs. */
export function parseServerTiming(header: string | null): ServerTiming | null {
  if (!header) return null;
  const dur = (name: string) => {
    const match = new RegExp(`(?:^|,)\\s*${name};(?:[^,]*;)?\\s*dur=([0-9.]+)`).exec(header);
    return match ? Math.max(1, Math.round(Number(match[1]) * 1000)) : null;
  };
  const sessionUs = dur('session');
  const appUs = dur('app');
  return sessionUs === null || appUs === null ? null : { sessionUs, appUs };
}
