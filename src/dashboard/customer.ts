/**
 * One synthetic shop customer for the dashboard's traffic: a cookie jar (the session cookie and,
 * under the sticky baseline, the balancer's server cookie) and an oracle. It remembers what it
 * put in its cart and checks every answer against that, so it counts lost sessions and lost items
 * exactly. A product copy of the test suites' shopper; it should give way to the lab's virtual
 * users once those are in `src/lab/`.
 */

export interface ShopAnswer {
  server: string;
  user: string | null;
  cart: Record<string, number>;
}

const SKUS = ['tea', 'mug', 'pot', 'cup', 'tin', 'kettle'];

export interface CustomerTally {
  requests: number;
  failed: number;
  sessionsLost: number;
  itemsLost: number;
}

export class Customer {
  readonly #cookies = new Map<string, string>();
  #expected: Record<string, number> = {};
  #loggedIn = false;
  #steps = 0;

  constructor(
    readonly base: string,
    readonly name: string,
    readonly tally: CustomerTally,
  ) {}

  /** One step of shopping: log in when needed, then mostly add items, sometimes look. */
  async step(signal: AbortSignal): Promise<void> {
    if (!this.#loggedIn) return this.#login(signal);
    const step = this.#steps++;
    if (step % 3 === 2) {
      this.#check(await this.#call('GET', '/api/me', undefined, signal));
      return;
    }
    const sku = SKUS[step % SKUS.length]!;
    const answer = await this.#call('POST', '/api/cart/items', { sku }, signal);
    // Only a successful answer proves the add happened.
    if (answer) this.#expected[sku] = (this.#expected[sku] ?? 0) + 1;
    this.#check(answer);
  }

  async #login(signal: AbortSignal): Promise<void> {
    const answer = await this.#call('POST', '/api/login', { user: this.name }, signal);
    if (answer?.user === this.name) {
      this.#loggedIn = true;
      this.#expected = { ...answer.cart };
    }
  }

  /** Compare the server's view with what this customer did; count what went missing. */
  #check(answer: ShopAnswer | null): void {
    if (!answer || !this.#loggedIn) return;
    if (answer.user !== this.name) {
      // Logged out behind our back: the session and everything in it is gone.
      this.tally.sessionsLost++;
      this.tally.itemsLost += Object.values(this.#expected).reduce((a, b) => a + b, 0);
      this.#loggedIn = false;
      this.#expected = {};
      return;
    }
    for (const [sku, qty] of Object.entries(this.#expected)) {
      const missing = qty - (answer.cart[sku] ?? 0);
      if (missing > 0) this.tally.itemsLost += missing;
    }
    this.#expected = { ...answer.cart };
  }

  async #call(method: string, path: string, body: unknown, signal: AbortSignal): Promise<ShopAnswer | null> {
    this.tally.requests++;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.#cookies.size) headers.cookie = [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.any([signal, AbortSignal.timeout(15_000)]),
      });
    } catch {
      if (!signal.aborted) this.tally.failed++;
      return null;
    }
    this.#keepCookies(res.headers.getSetCookie());
    if (!res.ok) {
      this.tally.failed++;
      await res.body?.cancel();
      return null;
    }
    return (await res.json().catch(() => null)) as ShopAnswer | null;
  }

  #keepCookies(lines: string[]): void {
    for (const line of lines) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const [name, value] = [pair!.slice(0, eq), pair!.slice(eq + 1)];
      if (/Max-Age=0/i.test(line) || value === '') this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }
}
