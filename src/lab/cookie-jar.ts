/**
 * The smallest cookie jar a virtual user needs: one origin, name=value pairs,
 * deletion by `Max-Age=0` or an empty value. Loopback only, so Domain, Path and
 * Secure never decide anything here.
 */
export class CookieJar {
  readonly #cookies = new Map<string, string>();

  /** Take the Set-Cookie lines of a response. */
  store(setCookies: readonly string[]): void {
    for (const line of setCookies) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (/max-age=0(?:;|$)/i.test(line) || value === '') this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }

  /** The Cookie request header, or '' when the jar is empty. */
  header(): string {
    let out = '';
    for (const [name, value] of this.#cookies) out += `${out ? '; ' : ''}${name}=${value}`;
    return out;
  }
}
