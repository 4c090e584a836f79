/**
 * A journey recorded for real, here and now: Chromium (driven by playwright-core,
 * `recordHar`) logs in to a fixture app with express-session, and the HAR it
 * saved replays: stateful with the default MemoryStore, stateless with
 * connect-redis. The committed recordings in test/fixtures/check/hars were
 * made the same way (test/fixtures/check/record.mjs).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readHar } from '../../src/check/har.js';
import { check } from '../../src/check/index.js';
import { chromiumPath } from '../helpers/chromium.js';
import { findRedisServer } from '../helpers/redis-server.js';

const fixtures = join(import.meta.dirname, '..', 'fixtures', 'check');
const canRun = existsSync(chromiumPath) && findRedisServer() !== null;
if (!canRun && process.env.CI === 'true') {
  throw new Error(`CI=true but ${chromiumPath} or redis-server is missing: .ci/run must install them.`);
}
if (!canRun) {
  console.warn(
    `\n!!! SKIPPING the check's live recording test: ${chromiumPath} or redis-server is missing. !!!\n`,
  );
}

const scratch = mkdtempSync(join(tmpdir(), 'check-browser-test-'));
const recorded = join(scratch, 'session-memory.har');
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe.skipIf(!canRun)('a journey recorded by Chromium with recordHar', () => {
  beforeAll(async () => {
    // The script that made the committed recordings, writing this one to a scratch folder.
    await promisify(execFile)(process.execPath, [
      join(fixtures, 'record.mjs'),
      '--out',
      scratch,
      'session-memory',
    ]);
  });

  it('is a HAR of the browser, with every request of the journey', () => {
    const { creator, exchanges } = readHar(recorded);
    expect(creator).toBe('Playwright');
    expect(exchanges.map((e) => `${e.method} ${e.url.pathname}`)).toEqual(
      expect.arrayContaining(['GET /login', 'POST /login', 'GET /account', 'GET /orders']),
    );
  });

  it('replays: sessions in memory found, sessions in Redis stateless', async () => {
    const [memory, redis] = await Promise.all([
      check({ app: 'node apps/session-memory.mjs', har: recorded, cwd: fixtures }),
      check({
        app: 'node apps/session-memory.mjs',
        har: recorded,
        cwd: fixtures,
        env: { SESSION_STORE: 'redis' },
      }),
    ]);
    expect(memory.verdict).toBe('stateful');
    expect(memory.findings[0]).toMatchObject({ request: 'GET /account', culpritId: 'session-memory' });
    expect(redis.verdict).toBe('stateless');
  });
});
