/// <reference lib="dom" />
/**
 * The dashboard in a real browser (Debian's chromium, driven by playwright-core) over a real
 * system of three shop servers: start traffic from the page, watch three servers take requests,
 * press Kill on one, see it marked down and its traffic move to the others while no session is
 * lost. Screenshots go to test-results/.
 */
import { existsSync, mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dashboard } from '../../src/dashboard/index.js';
import { startControl } from '../../src/system/control.js';
import { System } from '../../src/system/supervisor.js';
import { chromiumPath, launchChromium } from '../helpers/chromium.js';
import { findRedisServer } from '../helpers/redis-server.js';

const shots = join(import.meta.dirname, '..', '..', 'test-results');
const canRun = existsSync(chromiumPath) && findRedisServer() !== null;
if (!canRun && process.env.CI === 'true') {
  throw new Error(`CI=true but ${chromiumPath} or redis-server is missing: .ci/run must install them.`);
}
if (!canRun) {
  console.warn(
    `\n!!! SKIPPING the dashboard browser test: ${chromiumPath} or redis-server is missing (apt-get install -y chromium redis-server). !!!\n`,
  );
}

let system: System;
let control: Server;
let browser: Browser;

describe.skipIf(!canRun)('the dashboard in a browser', () => {
  beforeAll(async () => {
    mkdirSync(shots, { recursive: true });
    browser = await launchChromium();
  });

  afterEach(async () => {
    control?.closeAllConnections();
    await new Promise((resolve) => (control ? control.close(resolve) : resolve(null)));
    await system?.stop();
  });

  afterAll(async () => {
    await browser?.close();
  });

  /** A system of three shop servers with its dashboard; the page that shows it, watched for errors. */
  async function open(options: {
    sticky?: boolean;
    viewport?: { width: number; height: number };
    phone?: boolean;
  }) {
    system = new System({ servers: 3, port: 0, sticky: options.sticky ?? false });
    await system.start();
    const c = await startControl(system, 0, dashboard(system));
    control = c.server;
    const page = await browser.newPage({
      viewport: options.viewport ?? { width: 1280, height: 900 },
      ...(options.phone ? { isMobile: true, hasTouch: true } : {}),
    });
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    await page.goto(`${c.url}/`);
    await page.waitForSelector('li[data-server="app-3"][data-state="up"]', { timeout: 15_000 });
    return { page, problems };
  }

  /** Start traffic from the page's form, from the keyboard (Enter in a field submits it). */
  async function startTraffic(page: Page, users: number) {
    await page.fill('#users', String(users));
    await page.fill('#rate', '30');
    await page.fill('#max-requests', '6000');
    await page.fill('#seconds', '120');
    await page.focus('#users');
    await page.keyboard.press('Enter');
  }

  /** Stop the traffic with its button and wait until the page says it stopped. */
  async function stopTraffic(page: Page) {
    await page.getByRole('button', { name: 'Stop traffic' }).click();
    await page.waitForFunction(
      () => /^stopped/.test(document.querySelector('#traffic-state')?.textContent ?? ''),
      undefined,
      { timeout: 15_000 },
    );
  }

  /** Wait until every server has answered at least `n` requests, as the page shows it. */
  const everyServerServed = (page: Page, n: number) =>
    page.waitForFunction(
      (min) =>
        ['app-1', 'app-2', 'app-3'].every((name) => {
          const data = document.querySelector<HTMLElement>(`li[data-server="${name}"]`)?.dataset;
          return Number(data?.requests) >= min && Number(data?.rps) > 0;
        }),
      n,
      { timeout: 30_000 },
    );

  /** What the page shows for one server. */
  const card = (page: Page, name: string) =>
    page.$eval(`li[data-server="${name}"]`, (li) => ({
      state: (li as HTMLElement).dataset.state,
      rps: Number((li as HTMLElement).dataset.rps),
      requests: Number((li as HTMLElement).dataset.requests),
    }));

  it('shows traffic on three servers, a kill, the traffic moving, and no session lost', async () => {
    const { page, problems } = await open({});
    await startTraffic(page, 12);
    await everyServerServed(page, 40);
    expect(await page.textContent('#traffic-state')).toMatch(/^running: 12 users/);
    // The live charts (Chart.js): one series per server, drawn on a non-blank canvas.
    for (const id of ['chart-rps', 'chart-inflight']) {
      const chart = await page.evaluate((canvasId) => {
        type ChartGlobal = {
          getChart(id: string): { data: { datasets: { label: string; data: unknown[] }[] } };
        };
        const chart = (window as unknown as { Chart: ChartGlobal }).Chart.getChart(canvasId)!;
        const canvas = document.getElementById(canvasId) as HTMLCanvasElement;
        const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
        let painted = 0;
        for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) painted++;
        return {
          series: chart.data.datasets.map((d) => [d.label, d.data.length > 0]),
          painted,
          width: canvas.width,
        };
      }, id);
      expect(chart.series).toEqual([
        ['app-1', true],
        ['app-2', true],
        ['app-3', true],
      ]);
      expect(chart.width).toBeGreaterThan(200);
      expect(chart.painted).toBeGreaterThan(500);
    }
    await page.screenshot({ path: join(shots, 'dashboard-1-traffic.png'), fullPage: true });

    const before = { a: await card(page, 'app-1'), c: await card(page, 'app-3') };
    await page.getByRole('button', { name: 'Kill app-2 (SIGKILL, a crash)' }).click();
    await page.waitForSelector('li[data-server="app-2"][data-state="down"]', { timeout: 15_000 });
    await page.waitForFunction(
      () =>
        [...document.querySelectorAll('#log li')].some((li) => /kill app-2: done/.test(li.textContent ?? '')),
      undefined,
      { timeout: 15_000 },
    );
    // Its traffic moves to the others: app-2 takes nothing more, app-1 and app-3 keep counting.
    await page.waitForFunction(
      ({ a, c }) => {
        const get = (n: string) => document.querySelector<HTMLElement>(`li[data-server="${n}"]`)!.dataset;
        return (
          Number(get('app-2').rps) === 0 &&
          Number(get('app-1').requests) > a + 60 &&
          Number(get('app-3').requests) > c + 60
        );
      },
      { a: before.a.requests, c: before.c.requests },
      { timeout: 30_000 },
    );
    const frozen = (await card(page, 'app-2')).requests;
    await page.waitForFunction(
      (n) =>
        Number(document.querySelector<HTMLElement>('li[data-server="app-1"]')!.dataset.requests) > n + 30,
      (await card(page, 'app-1')).requests,
      { timeout: 30_000 },
    );
    expect((await card(page, 'app-2')).requests).toBe(frozen);
    expect((await card(page, 'app-1')).rps).toBeGreaterThan(0);
    expect((await card(page, 'app-3')).rps).toBeGreaterThan(0);
    // The oracle of the synthetic customers: every session survived the crash.
    expect(Number(await page.textContent('#traffic-requests'))).toBeGreaterThan(200);
    expect(await page.textContent('#sessions-lost')).toBe('0');
    expect(await page.textContent('#items-lost')).toBe('0');
    expect(await page.textContent('#store')).toMatch(/^redis up/);
    await page.screenshot({ path: join(shots, 'dashboard-2-after-kill.png'), fullPage: true });

    await stopTraffic(page);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('switches the strategy, restarts the store, removes a server and rolls a deploy, each with feedback', async () => {
    const { page, problems } = await open({});
    // The log line of a finished action: `<label>: done …`, or `<label> failed: <why>`.
    const outcome = async (label: string) => {
      const line = await page.waitForFunction(
        (l) =>
          [...document.querySelectorAll('#log li')]
            .map((li) => li.textContent ?? '')
            .find((t) => t.includes(`${l}: done`) || t.includes(`${l} failed`)),
        label,
        { timeout: 30_000 },
      );
      return String(await line.jsonValue());
    };
    const logged = (text: string) =>
      page.waitForFunction(
        (t) => [...document.querySelectorAll('#log li')].some((li) => li.textContent?.includes(t)),
        text,
        { timeout: 30_000 },
      );
    await page.selectOption('#strategy-select', 'p2c');
    await page.getByRole('button', { name: 'Switch' }).click();
    expect(await outcome('switch to p2c')).toContain('switch to p2c: done');
    await page.waitForFunction(() => document.querySelector('#strategy')?.textContent === 'p2c');

    const restart = page.getByRole('button', { name: 'Restart the store' });
    await restart.click();
    expect(await outcome('restart the store')).toContain('restart the store: done');
    expect(await restart.isEnabled()).toBe(true);
    await page.waitForFunction(() => /^redis up/.test(document.querySelector('#store')?.textContent ?? ''));

    await page.getByRole('button', { name: 'Remove app-3 (drained first)' }).click();
    await logged('app-3 left the system');
    expect(
      await page.$$eval('#servers li', (lis) => lis.map((li) => (li as HTMLElement).dataset.server)),
    ).toEqual(['app-1', 'app-2']);

    const deploy = page.getByRole('button', { name: 'Rolling deploy' });
    await deploy.click();
    // While it runs, the button says so and cannot be pressed twice.
    expect(await deploy.isDisabled()).toBe(true);
    expect(await deploy.textContent()).toBe('rolling deploy…');
    expect(await outcome('rolling deploy')).toContain('rolling deploy: done');
    await page.waitForFunction(
      () =>
        [...document.querySelectorAll<HTMLElement>('#servers li')].map((li) => li.dataset.server).join() ===
        'app-4,app-5',
    );
    expect(await deploy.textContent()).toBe('Rolling deploy');
    await page.screenshot({ path: join(shots, 'dashboard-5-actions.png'), fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  }, 180_000);

  it('fits a phone screen and can be driven from the keyboard', async () => {
    const { page, problems } = await open({ viewport: { width: 375, height: 812 }, phone: true });
    // No sideways scrolling on a phone.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    // Tab reaches the actions, and the focused one is visibly outlined.
    let reached = false;
    for (let i = 0; i < 40 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate(() => document.activeElement?.id === 'add');
    }
    expect(reached).toBe(true);
    expect(await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle)).toBe('solid');
    // Every control has a name a screen reader can say.
    const unnamed = await page.$$eval(
      'button, input, select',
      (els) =>
        els.filter(
          (e) =>
            !(
              e.getAttribute('aria-label') ||
              e.textContent?.trim() ||
              (e as HTMLInputElement).labels?.length
            ),
        ).length,
    );
    expect(unnamed).toBe(0);
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.querySelectorAll('#servers li').length === 4, undefined, {
      timeout: 30_000,
    });
    await page.screenshot({ path: join(shots, 'dashboard-3-phone.png'), fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });

  it('under --sticky, shows the sessions lost when the server holding them crashes', async () => {
    const { page, problems } = await open({ sticky: true });
    expect(await page.textContent('#mode')).toMatch(/^sticky baseline/);
    await startTraffic(page, 12);
    await everyServerServed(page, 20);
    await page.getByRole('button', { name: 'Kill app-1 (SIGKILL, a crash)' }).click();
    await page.waitForFunction(
      () => Number(document.querySelector('#sessions-lost')?.textContent) > 0,
      undefined,
      {
        timeout: 30_000,
      },
    );
    const lostLine = await page.waitForSelector('#log li.lost', { timeout: 15_000 });
    expect(await lostLine.textContent()).toMatch(/\d+ sessions? lost/);
    await page.screenshot({ path: join(shots, 'dashboard-4-sticky-lost.png'), fullPage: true });
    await stopTraffic(page);
    // An action that fails says why, with its code, as an alert.
    await page.getByRole('button', { name: 'Restart the store' }).click();
    const alert = await page.waitForSelector('#log li[role="alert"]:has-text("restart the store failed")');
    expect(await alert.textContent()).toMatch(/no server process to restart.*UNPINNED_ERR_NO_STORE/);
    // The browser reports the refused command's 409 as a failed resource load, and nothing else.
    expect(problems.filter((p) => !/status of 409/.test(p))).toEqual([]);
    await page.close();
  });
});
