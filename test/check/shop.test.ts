/**
 * `unpinned check` on the demo shop, with the journey Chromium recorded
 * (log in, two items into the cart, check out, the profile): stateless with
 * sessions in Redis and in one SQLite file for the host, stateful with sessions
 * in memory, the way `unpinned up --sticky` runs it. An SQLite file under the
 * working directory is each replica's own disk, and the check says so.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CheckResult } from '../../src/check/index.js';
import { describeRedis } from '../helpers/redis-server.js';

const root = join(import.meta.dirname, '..', '..');
const cli = join(root, 'dist', 'src', 'cli', 'index.js');
const journey = join(root, 'test', 'fixtures', 'check', 'hars', 'shop.har');
const scratch = mkdtempSync(join(tmpdir(), 'check-shop-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function checkShop(sessions: string): Promise<{ code: number; result: CheckResult }> {
  const app = `node dist/examples/shop/server.js --sessions ${sessions}`;
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [cli, 'check', '--app', app, '--har', journey, '--ready', '/healthz', '--json', '-'],
      { cwd: root, timeout: 120_000 },
      (error, stdout, stderr) => {
        try {
          resolve({
            code: error ? Number((error as { code?: number }).code) : 0,
            result: JSON.parse(stdout),
          });
        } catch {
          reject(new Error(`no JSON from unpinned check:\n${stderr}`));
        }
      },
    );
  });
}

describeRedis('unpinned check on the demo shop', () => {
  describe.concurrent('sessions', () => {
    it('in Redis: stateless', async () => {
      const { code, result } = await checkShop('redis');
      expect(code).toBe(0);
      expect(result).toMatchObject({ verdict: 'stateless', replicas: 3, findings: [] });
      expect(result.steps).toHaveLength(11);
      expect(result.steps.every((s) => s.same)).toBe(true);
    });

    it('in one SQLite file for the host: stateless', async () => {
      const { code, result } = await checkShop(`sqlite --sqlite ${join(scratch, 'sessions.db')}`);
      expect(code).toBe(0);
      expect(result.verdict).toBe('stateless');
    });

    it('in memory: stateful, sessions in memory named as the culprit', async () => {
      const { code, result } = await checkShop('memory');
      expect(code).toBe(1);
      expect(result.findings[0]).toMatchObject({
        step: 4,
        request: 'GET /',
        kind: 'html',
        expected: 'Logged in as',
        wroteOn: 'replica-3',
        readOn: 'replica-1',
        culpritId: 'session-memory',
      });
      expect(result.findings[0]!.culprit).toMatch(/^sessions kept in process memory/);
    });

    it('in an SQLite file under the working directory: stateful, local disk named as the culprit', async () => {
      const { code, result } = await checkShop('sqlite --sqlite ./sessions.db');
      expect(code).toBe(1);
      expect(result.findings[0]).toMatchObject({ step: 4, request: 'GET /', culpritId: 'local-disk' });
      expect(result.findings[0]!.culprit).toMatch(/^sessions kept in files on the replica's local disk/);
    });
  });
});
