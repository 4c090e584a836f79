/**
 * A scripted shop customer with a full cookie jar (session cookie and, under the
 * sticky baseline, the balancer's server cookie). It remembers what it put in
 * its cart and checks every answer against that: the oracle that counts lost
 * sessions and lost items exactly.
 */

export interface ShopAnswer {
  server: string;
  user: string | null;
  cart: Record<string, number>;
  orders: number;
}

export class Shopper {
  readonly name: string;
  readonly base: string;
  readonly #cookies = new Map<string, string>();
  /** What this customer knows it did. */
  expected: Record<string, number> = {};
  loggedIn = false;
  requests = 0;
  failed = 0;
  /** Why requests failed (status and error code, or the exception): the first thing to read when one does. */
  failures: string[] = [];
  sessionsLost = 0;
  itemsLost = 0;
  lastServer = '';

  constructor(base: string, name: string) {
    this.base = base;
    this.name = name;
  }

  async #call(method: string, path: string, body?: unknown): Promise<ShopAnswer | null> {
    this.requests++;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.#cookies.size) headers.cookie = [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(15_000),
      });
    } catch (error) {
      this.failed++;
      this.failures.push(`${method} ${path}: ${String((error as Error).cause ?? error)}`);
      return null;
    }
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const [name, value] = [pair!.slice(0, eq), pair!.slice(eq + 1)];
      if (/Max-Age=0/i.test(line) || value === '') this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
    if (!res.ok) {
      this.failed++;
      this.failures.push(
        `${method} ${path}: ${res.status} ${res.headers.get('x-unpinned-error') ?? ''} ${res.headers.get('x-served-by') ?? ''}`,
      );
      await res.body?.cancel();
      return null;
    }
    const answer = (await res.json()) as ShopAnswer;
    this.lastServer = answer.server;
    return answer;
  }

  /** Compare the server's view with what this customer did; count what went missing. */
  #check(answer: ShopAnswer | null): void {
    if (!answer || !this.loggedIn) return;
    if (answer.user !== this.name) {
      // Logged out behind our back: the session and everything in it is gone.
      this.sessionsLost++;
      this.itemsLost += Object.values(this.expected).reduce((a, b) => a + b, 0);
      this.loggedIn = false;
      this.expected = {};
      return;
    }
    for (const [sku, qty] of Object.entries(this.expected)) {
      const missing = qty - (answer.cart[sku] ?? 0);
      if (missing > 0) this.itemsLost += missing;
    }
    this.expected = { ...answer.cart };
  }

  async login(): Promise<void> {
    const answer = await this.#call('POST', '/api/login', { user: this.name });
    if (answer?.user === this.name) {
      this.loggedIn = true;
      this.expected = { ...answer.cart };
    }
  }

  async add(sku: string): Promise<void> {
    if (!this.loggedIn) await this.login();
    if (!this.loggedIn) return;
    const answer = await this.#call('POST', '/api/cart/items', { sku });
    // Only a successful answer proves the add happened.
    if (answer) this.expected[sku] = (this.expected[sku] ?? 0) + 1;
    this.#check(answer);
  }

  async look(): Promise<ShopAnswer | null> {
    const answer = await this.#call('GET', '/api/me');
    this.#check(answer);
    return answer;
  }

  get items(): number {
    return Object.values(this.expected).reduce((a, b) => a + b, 0);
  }
}

const SKUS = ['tea', 'mug', 'pot', 'cup', 'tin', 'kettle'];

/**
 * Shoppers add items and look at their carts until `until` resolves, bounded by
 * `maxRequests` each and a deadline: a load loop that always stops by itself.
 */
export async function shop(
  shoppers: Shopper[],
  until: Promise<unknown>,
  { maxRequests = 400, deadlineMs = 60_000 } = {},
): Promise<void> {
  let done = false;
  void until.finally(() => {
    done = true;
  });
  const deadline = Date.now() + deadlineMs;
  await Promise.all(
    shoppers.map(async (s, i) => {
      let n = 0;
      while (!done && n < maxRequests && Date.now() < deadline) {
        if (n % 3 === 2) await s.look();
        else await s.add(SKUS[(i + n) % SKUS.length]!);
        n++;
      }
      await s.look();
    }),
  );
}
