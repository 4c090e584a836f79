/**
 * The live cookie jar of a replay: the app's `Set-Cookie` answers decide what
 * the next request carries, never the recording (RFC 6265 §5.2–5.4, the parts
 * one origin needs: Path, Max-Age, Expires). Domain, Secure and SameSite are
 * not enforced: every request goes to the app's one origin on loopback, where
 * browsers treat http://localhost as secure too. Each cookie remembers which
 * step and replica set it, so a finding can say where the state was written.
 */

export interface JarCookie {
  name: string;
  value: string;
  path: string;
  expiresAt: number | null;
  /** Step that set it (-1: carried over from the recording). */
  setAt: number;
  setOn: string;
}

export interface CookieChange {
  name: string;
  action: 'set' | 'cleared';
  value: string;
}

/** RFC 6265 §5.1.4: the directory of the request path. */
function defaultPath(requestPath: string): string {
  const path = requestPath.split('?')[0] ?? '/';
  if (!path.startsWith('/')) return '/';
  const last = path.lastIndexOf('/');
  return last <= 0 ? '/' : path.slice(0, last);
}

/** RFC 6265 §5.1.4 path-match. */
function pathMatches(requestPath: string, cookiePath: string): boolean {
  const path = requestPath.split('?')[0] || '/';
  if (path === cookiePath) return true;
  if (!path.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || path[cookiePath.length] === '/';
}

/**
 * @example
 * const jar = new CookieJar();
 * jar.store(['sid=abc; Path=/; HttpOnly'], '/login', 2, 'replica-2');
 * jar.header('/cart'); // 'sid=abc'
 */
export class CookieJar {
  readonly #cookies = new Map<string, JarCookie>();

  /** Takes the Set-Cookie lines of a response (RFC 6265 §5.2) and says what changed. */
  store(lines: readonly string[], requestPath: string, step: number, machine: string, now = Date.now()) {
    const changes: CookieChange[] = [];
    for (const line of lines) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let path = defaultPath(requestPath);
      let expiresAt: number | null = null;
      let maxAgeSeen = false;
      for (const attribute of attributes) {
        const [key = '', ...rest] = attribute.split('=');
        const k = key.trim().toLowerCase();
        const v = rest.join('=').trim();
        if (k === 'path' && v.startsWith('/')) path = v;
        // §5.2.2: Max-Age wins over Expires.
        if (k === 'max-age' && /^-?\d+$/.test(v)) {
          maxAgeSeen = true;
          expiresAt = now + Number(v) * 1000;
        }
        if (k === 'expires' && !maxAgeSeen) {
          const t = Date.parse(v);
          if (!Number.isNaN(t)) expiresAt = t;
        }
      }
      const key = `${name}\u0000${path}`;
      if (expiresAt !== null && expiresAt <= now) {
        this.#cookies.delete(key);
        changes.push({ name, action: 'cleared', value: '' });
        continue;
      }
      this.#cookies.set(key, { name, value, path, expiresAt, setAt: step, setOn: machine });
      changes.push({ name, action: 'set', value });
    }
    return changes;
  }

  /** A cookie the recording carried that no recorded response set (JavaScript, or an earlier visit). */
  seed(name: string, value: string): void {
    this.#cookies.set(`${name}\u0000/`, {
      name,
      value,
      path: '/',
      expiresAt: null,
      setAt: -1,
      setOn: 'recording',
    });
  }

  has(name: string): boolean {
    return [...this.#cookies.values()].some((c) => c.name === name);
  }

  /** The cookies a request to `path` carries, most specific path first (RFC 6265 §5.4). */
  matching(path: string, now = Date.now()): JarCookie[] {
    return [...this.#cookies.values()]
      .filter((c) => (c.expiresAt === null || c.expiresAt > now) && pathMatches(path, c.path))
      .sort((a, b) => b.path.length - a.path.length);
  }

  header(path: string, now = Date.now()): string {
    return this.matching(path, now)
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }

  /** Current value of a cookie by name (for values a page's script copies into a header). */
  value(name: string): string | undefined {
    return [...this.#cookies.values()].find((c) => c.name === name)?.value;
  }
}
