/**
 * `unpinned lab` end to end through the CLI, on real processes: the crash
 * scenario on both architectures must show what the issue promises (the sticky
 * baseline loses sessions, the stateless system loses none), in the JSON shape
 * it promises; the HTML report it writes renders its charts in headless
 * Chromium. Short runs: the full --quick run is for docs/lab.md.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/system/paths.js';
import { chromiumPath, launchChromium } from '../helpers/chromium.js';
import { describeRedis } from '../helpers/redis-server.js';

const run = promisify(execFile);
const root = packageRoot();
const cli = join(root, 'dist', 'src', 'cli', 'index.js');

interface Entry {
  applicable: boolean;
  sessionsLost: number;
  itemsLost: number;
  failedRequests: number;
  requests: number;
  p50Ms: number;
  p99Ms: number;
  perServer: Record<string, number>;
  fault: { label: string; atMs: number; doneMs: number } | null;
  timeline: unknown[];
}

describeRedis('unpinned lab (CLI, real system)', () => {
  let dir: string;
  let out: { stdout: string; stderr: string };
  let json: {
    scenarios: Record<string, { sticky: Entry; stateless: Entry }>;
    claims: { scenario: string; claim: string; held: boolean }[];
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'unpinned-lab-test-'));
    out = await run(
      process.execPath,
      [
        cli,
        'lab',
        '--scenario',
        'server-crash',
        '--duration',
        '2',
        '--users',
        '9',
        '--json',
        join(dir, 'out.json'),
        '--report',
        join(dir, 'report'),
      ],
      { cwd: root, timeout: 120_000 },
    );
    json = JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8'));
  }, 150_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('server-crash: sticky loses sessions, stateless loses no session and no item', () => {
    const { sticky, stateless } = json.scenarios['server-crash']!;
    for (const entry of [sticky, stateless]) {
      expect(entry.applicable).toBe(true);
      for (const key of [
        'sessionsLost',
        'itemsLost',
        'failedRequests',
        'requests',
        'p50Ms',
        'p99Ms',
      ] as const) {
        expect(typeof entry[key]).toBe('number');
      }
      expect(entry.requests).toBeGreaterThan(50);
      expect(entry.fault).toMatchObject({ label: 'kill app-1 (SIGKILL)' });
      expect(Object.keys(entry.perServer).sort()).toEqual(['app-1', 'app-2', 'app-3']);
    }
    expect(sticky.sessionsLost).toBeGreaterThan(0);
    expect({ sessionsLost: stateless.sessionsLost, itemsLost: stateless.itemsLost }).toEqual({
      sessionsLost: 0,
      itemsLost: 0,
    });
    expect(json.claims.map((c) => [c.claim, c.held])).toEqual([
      ['sticky loses sessions', true],
      ['stateless loses no session and no item', true],
    ]);
  });

  it('prints the table on stdout and plain progress lines on stderr (not a terminal)', () => {
    expect(out.stdout).toMatch(/server-crash\s+sticky \(sticky-cookie\)/);
    expect(out.stdout).toMatch(/server-crash\s+stateless \(p2c\)/);
    expect(out.stderr).toMatch(/\[1\/2\] server-crash\s+sticky\s+running/);
    expect(out.stderr).toMatch(/\[2\/2\] server-crash\s+stateless done: \d+ requests/);
    expect(out.stderr).not.toContain('\r');
    expect(out.stdout).toContain('held    server-crash: sticky loses sessions');
  });

  it('writes a report that reads nothing from the network', () => {
    const html = readFileSync(join(dir, 'report', 'index.html'), 'utf8');
    expect(html).not.toMatch(/https?:\/\//);
    expect(existsSync(join(dir, 'report', 'chart.umd.min.js'))).toBe(true);
  });

  describeChromium('the report in headless Chromium', () => {
    it('renders every chart (non-blank canvases, no console errors) and saves a screenshot', async () => {
      const browser = await launchChromium();
      try {
        const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
        const errors: string[] = [];
        page.on('console', (m) => {
          if (m.type() === 'error') errors.push(m.text());
        });
        page.on('pageerror', (e) => errors.push(String(e)));
        const requested: string[] = [];
        page.on('request', (r) => requested.push(r.url()));
        await page.goto(`file://${join(dir, 'report', 'index.html')}`);
        await page.waitForSelector('body[data-rendered="yes"]', { timeout: 20_000 });
        const canvases = await page.$$eval('canvas', (list) =>
          list.map((c) => {
            // No DOM lib in this tsconfig: the few canvas members used here, typed by hand.
            const canvas = c as unknown as {
              width: number;
              height: number;
              getContext(kind: '2d'): {
                getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
              };
            };
            const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
            let painted = 0;
            for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) painted++;
            return { width: canvas.width, height: canvas.height, painted };
          }),
        );
        // Two summary charts, and one per architecture for the scenario.
        expect(canvases).toHaveLength(4);
        for (const c of canvases) {
          expect(c.width).toBeGreaterThan(100);
          expect(c.height).toBeGreaterThan(100);
          expect(c.painted).toBeGreaterThan(1000);
        }
        expect(errors).toEqual([]);
        expect(requested.every((url) => url.startsWith('file://'))).toBe(true);
        mkdirSync(join(root, 'test-results'), { recursive: true });
        await page.screenshot({ path: join(root, 'test-results', 'lab-report.png'), fullPage: true });
      } finally {
        await browser.close();
      }
    });
  });
});

describe('unpinned lab: flags', () => {
  const fails = async (args: string[]) => {
    const error = await run(process.execPath, [cli, 'lab', ...args], { cwd: root }).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(error?.code).toBe(1);
    return error!.stderr;
  };

  it('refuses an unknown scenario, naming the ones that exist, before starting anything', async () => {
    expect(await fails(['--scenario', 'meteor-strike'])).toMatch(
      /Unknown scenario "meteor-strike".*server-crash.*\(UNPINNED_ERR_LAB_UNKNOWN_SCENARIO\)/,
    );
  });

  it('refuses a sticky strategy for the stateless system, and counts that are not positive', async () => {
    expect(await fails(['--strategy', 'ip-hash'])).toContain('UNPINNED_ERR_LAB_INVALID_OPTION');
    expect(await fails(['--simulate', '--users', '0'])).toMatch(/--users must be a positive number/);
  });
});

/** `describe` that runs only where Debian's chromium is installed; a hard failure under CI=true. */
function describeChromium(name: string, fn: () => void): void {
  if (existsSync(chromiumPath)) {
    describe(name, fn);
    return;
  }
  if (process.env.CI === 'true') {
    throw new Error(
      `${chromiumPath} is missing but CI=true: "${name}" must run. Install it (apt-get install -y chromium).`,
    );
  }
  console.warn(
    `\n!!! SKIPPING "${name}": ${chromiumPath} is missing. Install it (apt-get install -y chromium). !!!\n`,
  );
  describe.skip(name, fn);
}
