/**
 * The lab's realtime scenario on real processes: Socket.IO 4.8 with its Redis adapter behind the
 * sticky-cookie balancer, then unpinned realtime over SSE behind p2c, the same subscribers and
 * numbered messages, the same SIGKILL of app-1; each on its own real Redis. Short: 3 s of load.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkClaims } from '../../src/lab/claims.js';
import { planScenarios } from '../../src/lab/packages.js';
import type { RealtimeRun } from '../../src/lab/realtime.js';
import { writeReport } from '../../src/lab/report.js';
import { isRealtime, type LabResult, runLab } from '../../src/lab/run.js';
import { scenarios, selectScenarios } from '../../src/lab/scenarios.js';
import { formatNotes, formatTable } from '../../src/lab/table.js';
import { chromiumPath, launchChromium } from '../helpers/chromium.js';
import { describeRedis } from '../helpers/redis-server.js';

describeRedis('lab: realtime', () => {
  let result: LabResult;
  let socketIo: RealtimeRun;
  let unpinned: RealtimeRun;

  beforeAll(async () => {
    result = await runLab({ scenarios: ['realtime'], durationMs: 3_000, users: 24 });
    const { sticky, stateless } = result.scenarios.realtime!;
    if (!isRealtime(sticky) || !isRealtime(stateless)) throw new Error('both columns are realtime runs');
    socketIo = sticky;
    unpinned = stateless;
  }, 90_000);

  it('runs the same load on both: the same subscribers, rooms and numbered messages', () => {
    expect(socketIo).toMatchObject({ label: 'Socket.IO 4.8 + redis-adapter', strategy: 'sticky-cookie' });
    expect(unpinned).toMatchObject({ label: 'unpinned realtime', strategy: 'p2c', transport: 'SSE' });
    for (const run of [socketIo, unpinned]) {
      expect(run.subscribers).toBe(24);
      expect(run.published).toBe(150);
      expect(run.expected).toBe(24 * 150);
      expect(run.fault).toMatchObject({ label: 'kill app-1 (SIGKILL)' });
      expect(run.servers).toEqual({ before: 3, after: 2 });
      // The kill cut the subscribers of app-1, and every one of them came back.
      expect(run.cut).toBeGreaterThan(0);
      expect(run.resumed).toBe(run.cut);
      expect(run.resumeP50Ms).not.toBeNull();
    }
  });

  it('Socket.IO: the sticky cookie holds each handshake on one server; the cut subscribers lose messages', () => {
    // engine.io-client keeps the balancer's cookie (withCredentials): no 400 "Session ID unknown".
    expect(socketIo.failedConnects).toBe(0);
    // Its Redis adapter relays and keeps nothing: what was sent while they reconnected is gone.
    expect(socketIo.lost).toBeGreaterThan(0);
    expect(socketIo.delivered).toBe(socketIo.expected - socketIo.lost);
  });

  it('unpinned realtime: every cut subscriber resumed, 0 lost, 0 duplicated, 0 reordered', () => {
    expect({
      lost: unpinned.lost,
      duplicated: unpinned.duplicated,
      reordered: unpinned.reordered,
      resets: unpinned.resets,
      failedConnects: unpinned.failedConnects,
    }).toEqual({ lost: 0, duplicated: 0, reordered: 0, resets: 0, failedConnects: 0 });
    expect(unpinned.delivered).toBe(unpinned.expected);
  });

  it('reports it: claims, its own table, notes', () => {
    expect(checkClaims(result).map((c) => [c.scenario, c.held])).toEqual([
      ['realtime', true],
      ['realtime', true],
    ]);
    const table = formatTable(result);
    expect(table).toMatch(/^scenario\s+architecture\s+subscribers\s+messages owed\s+lost/);
    expect(table).toMatch(
      /realtime\s+sticky: Socket\.IO 4\.8 \+ redis-adapter \(sticky-cookie\)\s+24\s+3600/,
    );
    expect(table).toMatch(/realtime\s+stateless: unpinned realtime \(p2c\)\s+24\s+3600\s+0\s+0\s+0\s+0/);
    expect(formatNotes(result)).toMatch(/realtime sticky: .* kill app-1 \(SIGKILL\) at 1\.\d s: \d+ of 24/);
  });

  describeChromium('the report in headless Chromium', () => {
    let dir = '';
    afterAll(() => dir && rmSync(dir, { recursive: true, force: true }));

    it('draws both timelines and both comparisons, with no console error', async () => {
      dir = mkdtempSync(join(tmpdir(), 'unpinned-realtime-report-'));
      const index = writeReport(dir, { ...result, claims: checkClaims(result) });
      const browser = await launchChromium();
      try {
        const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
        const errors: string[] = [];
        page.on('pageerror', (e) => errors.push(String(e)));
        page.on('console', (m) => {
          if (m.type() === 'error') errors.push(m.text());
        });
        await page.goto(`file://${index}`);
        await page.waitForSelector('body[data-rendered="yes"]', { timeout: 20_000 });
        expect(await page.$$eval('canvas', (list) => list.length)).toBe(4);
        expect(await page.$$eval('p.realtime', (list) => list.map((p) => p.textContent))).toEqual([
          expect.stringContaining('sticky: Socket.IO'),
          expect.stringContaining('stateless: unpinned realtime over SSE'),
        ]);
        expect(errors).toEqual([]);
      } finally {
        await browser.close();
      }
    });
  });
});

describe('lab: realtime without its packages', () => {
  const realtime = scenarios.realtime;

  it('is skipped from the default set, with the reason, and the others still run', () => {
    const plan = planScenarios(selectScenarios(undefined), false, ['socket.io-client']);
    expect(plan.run.map((s) => s.id)).not.toContain('realtime');
    expect(plan.run.map((s) => s.id)).toContain('server-crash');
    expect(plan.skipped).toEqual([
      {
        scenario: 'realtime',
        reason: expect.stringContaining('npm install --save-dev socket.io-client@4.8'),
      },
    ]);
  });

  it('is an UNPINNED_ERR_LAB_MISSING_PACKAGE error when asked for by name', () => {
    expect(() => planScenarios([realtime], true, ['socket.io', 'eventsource'])).toThrow(
      expect.objectContaining({
        code: 'UNPINNED_ERR_LAB_MISSING_PACKAGE',
        message: expect.stringContaining('needs socket.io, eventsource'),
      }),
    );
    expect(planScenarios([realtime], true, []).run).toEqual([realtime]);
  });
});

/** `describe` that runs only where Debian's chromium is installed; a hard failure under CI=true. */
function describeChromium(name: string, fn: () => void): void {
  if (existsSync(chromiumPath)) {
    describe(name, fn);
    return;
  }
  if (process.env.CI === 'true')
    throw new Error(`${chromiumPath} is missing but CI=true: "${name}" must run.`);
  console.warn(`\n!!! SKIPPING "${name}": ${chromiumPath} is missing (apt-get install -y chromium). !!!\n`);
  describe.skip(name, fn);
}
