/**
 * The SQLite store while another process holds the write lock: a real child
 * process in BEGIN IMMEDIATE, as a backup, a migration or an app's own long
 * transaction would be. The request that needs the lock waits off the event
 * loop and gets a 503 once `busyTimeout` has passed; every other request of the
 * same server is answered meanwhile, session reads included (WAL), and once the
 * lock is released the same session takes writes again.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createSessions } from '../../src/session/manager.js';
import { type SqliteStore, sqliteStore } from '../../src/stores/sqlite/index.js';
import { type RunningApp, startExpress } from '../adapters/apps.js';
import { lineReader } from '../helpers/line-reader.js';
import { wrapStore } from '../helpers/sessions.js';
import { barrier } from '../helpers/wait.js';

/** Room for a loaded 2-core machine; a request that hangs goes far past it. */
const MARGIN_MS = 3000;

const dir = mkdtempSync(join(tmpdir(), 'unpinned-sqlite-lock-'));
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The other process: holds the lock on "lock" until "release". */
async function startLocker(path: string) {
  const child = spawn(
    process.execPath,
    [join(import.meta.dirname, '..', 'fixtures', 'sqlite-locker.mjs'), path],
    {
      stdio: 'pipe',
    },
  );
  cleanup.push(() => {
    child.kill();
  });
  const next = lineReader(child);
  expect(await next()).toBe('ready');
  return {
    async say(command: 'lock' | 'release'): Promise<void> {
      child.stdin.write(`${command}\n`);
      expect(await next()).toBe(command === 'lock' ? 'locked' : 'released');
    },
  };
}

/** An Express server on the store; `waiting` opens when a request's commit reaches the store. */
async function serve(path: string, busyTimeout: number) {
  const store: SqliteStore = sqliteStore({ path, busyTimeout });
  let reached = barrier();
  const app = await startExpress(
    createSessions({
      store: wrapStore(store, {
        write: (id, write) => {
          reached.open();
          return store.write(id, write);
        },
      }),
    }),
  );
  cleanup.push(() => store.close());
  cleanup.push(() => app.close());
  return {
    app,
    /** Resolves once the next write is in the store (and, with the lock taken, waiting). */
    nextWrite(): Promise<void> {
      reached = barrier();
      return reached.promise;
    },
  };
}

async function call(
  app: RunningApp,
  method: string,
  path: string,
  cookie?: string | null,
  timeoutMs = 10_000,
) {
  const res = await fetch(`${app.url}${path}`, {
    method,
    headers: cookie ? { cookie } : {},
    signal: AbortSignal.timeout(timeoutMs),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** `promise`, writing `name` into `order` when it settles: which answer came first, without a clock. */
async function noted<T>(order: string[], name: string, promise: Promise<T>): Promise<T> {
  try {
    return await promise;
  } finally {
    order.push(name);
  }
}

/** Everything but the waiting write, on the same server while it waits: a timer, a plain GET, a session read. */
async function othersWhileWaiting(app: RunningApp, cookie: string, order: string[]) {
  const timer = noted(order, 'timer', new Promise((resolve) => setTimeout(resolve, 0)));
  const plain = noted(order, 'plain', call(app, 'GET', '/plain'));
  const read = noted(order, 'read', call(app, 'GET', '/data', cookie));
  const [, plainAnswer, readAnswer] = await Promise.all([timer, plain, read]);
  expect(plainAnswer.status).toBe(200);
  expect(readAnswer.status).toBe(200);
  return JSON.parse(readAnswer.text) as Record<string, unknown>;
}

describe('sqlite store while another process holds the write lock', () => {
  it('keeps serving the server while one request waits, answers that one 503 within busyTimeout, then takes the write', async () => {
    const path = join(dir, 'held.db');
    const busyTimeout = 1500;
    const { app, nextWrite } = await serve(path, busyTimeout);
    const locker = await startLocker(path);
    const first = await call(app, 'POST', '/set/a');
    const cookie = first.headers.get('set-cookie')!.split(';')[0]!;

    await locker.say('lock');
    const order: string[] = [];
    const reached = nextWrite();
    const write = noted(order, 'write', call(app, 'POST', '/set/b', cookie, busyTimeout + MARGIN_MS));
    await reached;
    // Blocking inside SQLite would answer the waiting write before any of these.
    expect(await othersWhileWaiting(app, cookie, order)).toEqual({ a: true });
    expect(order).not.toContain('write');

    const refused = await write;
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(JSON.parse(refused.text)).toMatchObject({ error: { code: 'UNPINNED_ERR_STORE_UNAVAILABLE' } });

    await locker.say('release');
    expect((await call(app, 'POST', '/set/b', cookie)).status).toBe(200);
    expect(JSON.parse((await call(app, 'GET', '/data', cookie)).text)).toEqual({ a: true, b: true });
  });

  it('lands a write that waited, once the lock is released within busyTimeout', async () => {
    const path = join(dir, 'released.db');
    const busyTimeout = 30_000;
    const { app, nextWrite } = await serve(path, busyTimeout);
    const locker = await startLocker(path);
    const cookie = (await call(app, 'POST', '/set/a')).headers.get('set-cookie')!.split(';')[0]!;

    await locker.say('lock');
    const order: string[] = [];
    const reached = nextWrite();
    const write = noted(order, 'write', call(app, 'POST', '/set/b', cookie, busyTimeout + MARGIN_MS));
    await reached;
    await othersWhileWaiting(app, cookie, order);
    expect(order).not.toContain('write');
    await locker.say('release');

    expect((await write).status).toBe(200);
    expect(JSON.parse((await call(app, 'GET', '/data', cookie)).text)).toEqual({ a: true, b: true });
  });
});
