/**
 * `npm run bench:charts`: what the dashboard's live charts cost in a real browser (Debian's
 * Chromium through playwright-core), drawn two ways from the same snapshots: with Chart.js (the
 * dashboard's src/dashboard/assets/charts.js, as shipped) and with the hand-written SVG renderer
 * the dashboard used before (kept here, verbatim but for its inputs, as the point of comparison),
 * and with nothing drawn at all (the browser's own cost of a tick). Ends with one JSON line.
 *
 * Method: a page with the dashboard's two charts (600 × 160 px each) holds three minutes of
 * one-second snapshots of N servers; each tick adds a snapshot, drops the oldest, redraws both
 * charts and waits for the next frame, so the browser renders every tick. Over 300 ticks after 30
 * warm-up ticks, per tick: the CPU time of all Chromium processes (SystemInfo.getProcessInfo),
 * the renderer's main-thread time (Performance.getMetrics: TaskDuration and its layout and style
 * parts); the redraw call alone is timed in the page. Bytes are what the page loads for its
 * charts, raw and gzipped. The load average is printed: other work on the machine inflates it all.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { chartLibraryPath } from '../src/lab/report.js';
import { packageRoot } from '../src/system/paths.js';

const TICKS = Number(process.env.BENCH_TICKS ?? 300);
const WARMUP = 30;
const SERVER_COUNTS = [3, 12];
const assets = join(packageRoot(), 'src', 'dashboard', 'assets');

/** The dashboard's SVG renderer before Chart.js (dashboard.js, renderChart), for comparison. */
const svgRenderer = `
const fmt = (n, digits = 0) => (n === null || n === undefined ? '–' : Number(n).toFixed(digits));
function renderChart(svg, key, history, colorOf) {
  const width = 600;
  const height = 160;
  const windowMs = 180_000;
  const now = history.length ? history[history.length - 1].t : Date.now();
  const names = [...new Set(history.flatMap((s) => s.servers.map((v) => v.name)))];
  let max = 1;
  for (const s of history) for (const v of s.servers) max = Math.max(max, v[key]);
  const ns = 'http://www.w3.org/2000/svg';
  svg.replaceChildren();
  for (const f of [0.25, 0.5, 0.75]) {
    const grid = document.createElementNS(ns, 'line');
    grid.setAttribute('x1', '0');
    grid.setAttribute('x2', String(width));
    grid.setAttribute('y1', String(height * f));
    grid.setAttribute('y2', String(height * f));
    grid.setAttribute('stroke', 'currentColor');
    grid.setAttribute('stroke-opacity', '0.12');
    svg.append(grid);
  }
  const top = document.createElementNS(ns, 'text');
  top.setAttribute('x', '4');
  top.setAttribute('y', '12');
  top.setAttribute('font-size', '11');
  top.setAttribute('fill', 'currentColor');
  top.textContent = fmt(max, max < 10 ? 1 : 0);
  svg.append(top);
  for (const name of names) {
    const points = [];
    for (const s of history) {
      const v = s.servers.find((x) => x.name === name);
      if (!v) continue;
      const x = width - ((now - s.t) / windowMs) * width;
      const y = height - (v[key] / max) * (height - 16);
      points.push(x.toFixed(1) + ',' + y.toFixed(1));
    }
    const line = document.createElementNS(ns, 'polyline');
    line.setAttribute('points', points.join(' '));
    line.setAttribute('fill', 'none');
    line.setAttribute('stroke', colorOf(name));
    line.setAttribute('stroke-width', '2');
    line.setAttribute('vector-effect', 'non-scaling-stroke');
    svg.append(line);
  }
}
export function charts(colorOf) {
  const a = document.getElementById('a');
  const b = document.getElementById('b');
  return (history) => {
    renderChart(a, 'rps', history, colorOf);
    renderChart(b, 'inFlight', history, colorOf);
  };
}`;

const chartjsCharts = `
import { liveChart } from '/charts.js';
export function charts(colorOf) {
  const a = liveChart(document.getElementById('a'), 'rps', colorOf);
  const b = liveChart(document.getElementById('b'), 'inFlight', colorOf);
  return (history) => {
    a.update(history);
    b.update(history);
  };
}`;

/** `none`: the same ticks with nothing drawn, the browser's own cost per frame to subtract. */
type Renderer = 'none' | 'svg' | 'chartjs';

const noCharts = `export function charts() {
  return () => {};
}`;

function page(renderer: Renderer): string {
  const box = 'width:600px;height:160px;position:relative';
  const body =
    renderer === 'svg'
      ? `<svg id="a" viewBox="0 0 600 160" preserveAspectRatio="none" style="${box};display:block"></svg>
         <svg id="b" viewBox="0 0 600 160" preserveAspectRatio="none" style="${box};display:block"></svg>`
      : `<div style="${box}"><canvas id="a"></canvas></div><div style="${box}"><canvas id="b"></canvas></div>`;
  return `<!doctype html><html><head><meta charset="utf-8">
<style>:root { --muted: #5b5b5b; --line: #d6d6d0; } body { font: 14px system-ui, sans-serif; }</style>
${renderer === 'chartjs' ? '<script src="/chart.umd.min.js"></script>' : ''}
</head><body>${body}
<script type="module">
import { charts } from '/renderer-${renderer}.js';
const palette = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2'];
const colors = new Map();
const colorOf = (name) => {
  if (!colors.has(name)) colors.set(name, palette[colors.size % palette.length]);
  return colors.get(name);
};
const draw = charts(colorOf);
let t = 0;
let history = [];
function snapshot(servers) {
  t += 1000;
  return { t, servers: Array.from({ length: servers }, (_, i) => ({
    name: 'app-' + (i + 1), rps: 20 + 10 * Math.sin(t / 7000 + i) + Math.random() * 5,
    inFlight: Math.floor(Math.random() * 8) })) };
}
window.fill = (servers) => {
  history = Array.from({ length: 181 }, () => snapshot(servers));
  draw(history);
};
const frame = () => new Promise((resolve) => requestAnimationFrame(() => resolve()));
window.ticks = async (servers, n) => {
  const times = [];
  for (let i = 0; i < n; i++) {
    history.push(snapshot(servers));
    history.shift();
    const start = performance.now();
    draw(history);
    times.push(performance.now() - start);
    await frame();
  }
  times.sort((x, y) => x - y);
  return { median: times[Math.floor(n / 2)], p95: times[Math.floor(n * 0.95)] };
};
window.ready = true;
</script></body></html>`;
}

function serve(): Promise<{ url: string; close(): void }> {
  const files: Record<string, [string, string | Buffer]> = {
    '/chart.umd.min.js': ['text/javascript', readFileSync(chartLibraryPath())],
    '/charts.js': ['text/javascript', readFileSync(join(assets, 'charts.js'))],
    '/renderer-svg.js': ['text/javascript', svgRenderer],
    '/renderer-chartjs.js': ['text/javascript', chartjsCharts],
    '/renderer-none.js': ['text/javascript', noCharts],
    '/none.html': ['text/html', page('none')],
    '/svg.html': ['text/html', page('svg')],
    '/chartjs.html': ['text/html', page('chartjs')],
  };
  const server = createServer((req, res) => {
    const file = files[req.url ?? ''];
    if (!file) return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': file[0], 'cache-control': 'no-store' }).end(file[1]);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        close: () => server.close(),
      }),
    ),
  );
}

const size = (file: string) => {
  const body = readFileSync(file);
  return { bytes: body.length, gzipBytes: gzipSync(body).length };
};

const round = (n: number) => Math.round(n * 1000) / 1000;

async function main(): Promise<void> {
  const server = await serve();
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--no-first-run',
    ],
  });
  const results: Record<string, unknown>[] = [];
  // CPU of every Chromium process (browser, renderer, GPU): raster work that leaves the main
  // thread (SVG paints on raster threads, a software canvas on the main one) is counted alike.
  const system = await browser.newBrowserCDPSession();
  const cpu = async () =>
    (
      (await system.send('SystemInfo.getProcessInfo')) as { processInfo: { cpuTime: number }[] }
    ).processInfo.reduce((sum, p) => sum + p.cpuTime, 0);
  try {
    for (const servers of SERVER_COUNTS) {
      for (const renderer of ['none', 'svg', 'chartjs'] as const) {
        const tab = await browser.newPage({ viewport: { width: 1280, height: 900 } });
        const cdp = await tab.context().newCDPSession(tab);
        await cdp.send('Performance.enable');
        await tab.goto(`${server.url}/${renderer}.html`);
        await tab.waitForFunction(() => (globalThis as unknown as { ready?: boolean }).ready === true);
        await tab.evaluate((n) => (globalThis as unknown as { fill(n: number): void }).fill(n), servers);
        const run = (n: number) =>
          tab.evaluate(
            ([s, k]) =>
              (
                globalThis as unknown as {
                  ticks(s: number, n: number): Promise<{ median: number; p95: number }>;
                }
              ).ticks(s!, k!),
            [servers, n],
          );
        await run(WARMUP);
        const metrics = async () =>
          Object.fromEntries(
            (await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value] as const),
          );
        const before = await metrics();
        const cpuBefore = await cpu();
        const redraw = await run(TICKS);
        const cpuAfter = await cpu();
        const after = await metrics();
        const perTick = (name: string) => round(((after[name]! - before[name]!) * 1000) / TICKS);
        const row = {
          renderer,
          servers,
          cpuMsPerTick: round(((cpuAfter - cpuBefore) * 1000) / TICKS),
          mainThreadMsPerTick: perTick('TaskDuration'),
          layoutMsPerTick: perTick('LayoutDuration'),
          styleMsPerTick: perTick('RecalcStyleDuration'),
          redrawMedianMs: round(redraw.median),
          redrawP95Ms: round(redraw.p95),
        };
        results.push(row);
        console.log(JSON.stringify(row));
        await tab.close();
      }
    }
  } finally {
    await browser.close();
    server.close();
  }
  const bytes = {
    chartjs: size(chartLibraryPath()),
    charts: size(join(assets, 'charts.js')),
    dashboard: size(join(assets, 'dashboard.js')),
  };
  console.log(
    JSON.stringify({
      ticks: TICKS,
      bytes,
      results,
      chromium: browser.version(),
      loadAverage: Number(loadavg()[0]!.toFixed(2)),
      date: new Date().toISOString(),
    }),
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
