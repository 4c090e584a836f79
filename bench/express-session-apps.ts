/**
 * express-session apps as real processes (test/fixtures/express-session-app.mjs)
 * and the concurrency scenarios run against them: used by the drop-in tests,
 * which assert on the outcome, and by bench/express-session.ts, which prints it
 * for each way off sticky. Requests are held in flight by a gate in the app
 * (each has loaded its session before any of them saves), so the overlap is
 * the same on every run and on any machine, with no clock involved.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { children, startProcess } from './children.js';

export type StoreKind = 'unpinned' | 'connect-redis' | 'memory';

export interface Apps {
  urls: string[];
  stop(): Promise<void>;
}

export const SECRET = 'express-session app secret';

/** `count` processes of the fixture app on one Redis, each printing its port. */
export async function startApps(
  fixture: string,
  kind: StoreKind,
  redisUrl: string,
  count = 3,
): Promise<Apps> {
  const started: ChildProcess[] = [];
  const urls: string[] = [];
  const env = { STORE: kind, REDIS_URL: redisUrl, SESSION_SECRET: SECRET };
  for (let i = 0; i < count; i++) {
    const port = await startProcess(process.execPath, [fixture], env);
    started.push(children.at(-1)!);
    urls.push(`http://127.0.0.1:${port}`);
  }
  return {
    urls,
    async stop() {
      await Promise.all(
        started.map(async (child) => {
          if (child.exitCode !== null || child.signalCode !== null) return;
          child.kill('SIGTERM');
          await once(child, 'exit');
        }),
      );
    },
  };
}

/** Requests answered 503 (the store did not answer in time, on a loaded machine) and sent again. */
export const retried = { count: 0 };

/**
 * A request whose whole response has arrived. express-session sends all but the
 * last byte before its save finishes, so only the end of the body proves the save.
 * A 503 is retried, as a client honouring Retry-After would, without `hold`: the
 * gate it was meant to wait at may have opened already.
 */
export async function complete(url: string, cookie: string | null, method = 'POST'): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    const res = await fetch(url, { method, headers: cookie ? { cookie } : {} });
    const body = await res.arrayBuffer();
    if (res.status === 503 && attempt < 5) {
      retried.count++;
      url = url.replace(/[?&]hold\b/, (m) => (m[0] === '?' ? '?' : ''));
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      continue;
    }
    if (res.status >= 400) throw new Error(`${method} ${url} answered ${res.status}: ${Buffer.from(body)}`);
    return new Response(body, { status: res.status, headers: res.headers });
  }
}

/** Logs in on `url` and returns the session cookie (`connect.sid=...`). */
export async function login(url: string): Promise<string> {
  const res = await complete(`${url}/login`, null);
  return res.headers.get('set-cookie')!.split(';')[0]!;
}

export async function readSession(url: string, cookie: string): Promise<Record<string, unknown>> {
  return (await complete(`${url}/me`, cookie, 'GET')).json() as Promise<Record<string, unknown>>;
}

/** Sends `requests` (each with `?hold`), waits until all are held, then lets them finish. */
export async function heldTogether(
  urls: readonly string[],
  requests: readonly string[],
  cookie: string,
  between: () => Promise<void> = async () => {},
): Promise<void> {
  // A request retried after a 503 may finish without being held: it counts as arrived too.
  let settled = 0;
  const inFlight = requests.map((url) => complete(url, cookie).finally(() => settled++));
  // Their failures surface through Promise.all below, not as unhandled rejections meanwhile.
  for (const request of inFlight) request.catch(() => {});
  const deadline = Date.now() + 60_000;
  for (;;) {
    const counts = await Promise.all(
      urls.map(async (u) => (await complete(`${u}/held`, null, 'GET')).json()),
    );
    const held = counts.reduce((sum: number, c) => sum + (c as { held: number }).held, 0);
    if (held + settled >= requests.length) break;
    if (Date.now() > deadline) {
      throw new Error(`${held} held + ${settled} done of ${requests.length} requests after 60 s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await between();
  await Promise.all(urls.map((u) => complete(`${u}/release`, null)));
  await Promise.all(inFlight);
}

/**
 * One session, `n` requests spread round-robin over `urls`, each setting its
 * own key; then the session is read on the login server. Returns how many of
 * the `n` keys it holds. Held (the default): all `n` have loaded the session
 * before any saves, the worst case and the same on every run. Not held: sent
 * at once and left to overlap as they happen to, as a browser's would.
 */
export async function disjointKeys(urls: readonly string[], n = 200, held = true): Promise<number> {
  const cookie = await login(urls[0]!);
  const requests = Array.from(
    { length: n },
    (_, i) => `${urls[i % urls.length]}/set/k${i}${held ? '?hold' : ''}`,
  );
  if (held) await heldTogether(urls, requests, cookie);
  else await Promise.all(requests.map((url) => complete(url, cookie)));
  const data = await readSession(urls[0]!, cookie);
  return Array.from({ length: n }, (_, i) => `k${i}`).filter((key) => key in data).length;
}

/**
 * `n` slow requests of one session in flight (loaded, each about to set a key,
 * or with `path` another route that holds) on the servers after the first; a
 * logout on the first; then the slow ones finish. Returns the cookie and
 * whether the session came back.
 */
export async function logoutInFlight(
  urls: readonly string[],
  n = 20,
  path = (i: number) => `/set/late${i}?hold`,
): Promise<{ cookie: string; undone: boolean }> {
  const cookie = await login(urls[0]!);
  const others = urls.length > 1 ? urls.slice(1) : urls;
  const requests = Array.from({ length: n }, (_, i) => `${others[i % others.length]}${path(i)}`);
  await heldTogether(urls, requests, cookie, async () => {
    await complete(`${urls[0]}/logout`, cookie);
  });
  const data = await readSession(urls[0]!, cookie);
  return { cookie, undone: Object.keys(data).length > 0 };
}
