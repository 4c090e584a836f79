import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSessions } from '../../src/session/manager.js';
import { generateToken, sessionIdOf } from '../../src/session/token.js';
import { loadDriver } from '../../src/stores/sqlite/driver.js';
import { type SqliteStore, sqliteStore } from '../../src/stores/sqlite/index.js';
import { buildPackage } from '../helpers/build.js';
import { lineReader } from '../helpers/line-reader.js';
import { CookieJar, request } from '../helpers/sessions.js';
import { createWrite, storeConformance } from './conformance.js';

const dir = mkdtempSync(join(tmpdir(), 'unpinned-sqlite-'));
const stores: SqliteStore[] = [];
afterAll(async () => {
  for (const store of stores) await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function open(name = 'sessions.db'): SqliteStore {
  const store = sqliteStore({ path: join(dir, name) });
  stores.push(store);
  return store;
}

const shared = open();
storeConformance('sqlite (file)', () => ({ store: shared, now: Date.now }));

describe('sqlite store', () => {
  it('shares sessions between two connections to one file, as two processes would', async () => {
    const other = open();
    const id = sessionIdOf(generateToken());
    await shared.write(id, createWrite(Date.now(), { cart: ['a'] }));
    expect((await other.load(id))?.data.get('cart')).toBe('["a"]');
    await other.destroy(id);
    expect(await shared.load(id)).toBeNull();
  });

  it('refuses a path it cannot open, saying which', () => {
    expect(() => sqliteStore({ path: join(dir, 'missing-folder', 'x.db') })).toThrow(
      expect.objectContaining({
        code: 'UNPINNED_ERR_INVALID_OPTION',
        message: expect.stringMatching(/"path"/),
      }),
    );
  });

  it('says how to install better-sqlite3 when it cannot be loaded', () => {
    let error: unknown;
    try {
      loadDriver('better-sqlite3-that-is-not-installed');
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'UNPINNED_ERR_MISSING_DEPENDENCY' });
    expect((error as Error).message).toMatch(/npm install better-sqlite3@12/);
    expect((error as Error).cause).toBeInstanceOf(Error);
  });
});

describe('sqlite store shared by processes', () => {
  let dist: string;
  let remove = () => {};
  beforeAll(async () => {
    ({ dist, remove } = await buildPackage());
  });
  afterAll(() => remove());

  it('lands every concurrent update from two real processes on one file', async () => {
    const path = join(dir, 'multi.db');
    const sessions = createSessions({ store: open('multi.db') });
    const jar = new CookieJar();
    await request(sessions, jar, (s) => s.set('seed', true));
    const rounds = 60;
    const workers = ['a', 'b'].map((name) =>
      spawn(
        process.execPath,
        [
          join(import.meta.dirname, '..', 'fixtures', 'sqlite-worker.mjs'),
          dist,
          path,
          jar.cookie!,
          name,
          String(rounds),
        ],
        { stdio: 'pipe' },
      ),
    );
    const outputs = workers.map(lineReader);
    // Both processes are up and have opened the file before either starts: their work overlaps.
    for (const next of outputs) expect(await next()).toBe('ready');
    for (const worker of workers) worker.stdin.write('go\n');
    const results = await Promise.all(outputs.map(async (next) => JSON.parse(await next())));
    expect(results.every((r) => r.done)).toBe(true);

    const data = await request(sessions, jar, (s) => s.all());
    expect(data.n).toBe(2 * rounds);
    const cart = data.cart as string[];
    expect(cart).toHaveLength(2 * rounds);
    expect(new Set(cart).size).toBe(2 * rounds);
    for (const name of ['a', 'b']) for (let i = 0; i < rounds; i++) expect(data[`${name}-key-${i}`]).toBe(i);
    console.info(
      `sqlite processes: ${results.map((r) => r.conflictsRetried).join(' + ')} compare-and-set retries`,
    );
  });
});
