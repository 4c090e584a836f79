/**
 * The dashboard of `unpinned up`: a page and its live data, added to the system's control API so
 * the page reads and steers the system through the very routes the CLI verbs use.
 *
 *   GET  /                    the page (its script, styles and Chart.js beside it, no CDN)
 *   GET  /events              server-sent events: `history` once, then a `snapshot` a second
 *   GET  /traffic             the synthetic traffic's tally (null before the first run)
 *   POST /traffic      {users, skew, rate, maxRequests, seconds} start (replacing a running one)
 *   POST /traffic/stop        stop it
 *
 * @example
 * const control = await startControl(system, 0, dashboard(system));
 * console.log(`dashboard ${control.url}/`);
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { chartLibraryPath } from '../lab/report.js';
import type { ControlExtension } from '../system/control.js';
import { packageRoot } from '../system/paths.js';
import type { System } from '../system/supervisor.js';
import { Monitor, type MonitorOptions } from './monitor.js';
import { Traffic, trafficOptions } from './traffic.js';

export type { Snapshot } from './monitor.js';

const assets: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'dashboard.js': 'text/javascript; charset=utf-8',
  'charts.js': 'text/javascript; charset=utf-8',
  'chart.umd.min.js': 'text/javascript; charset=utf-8',
  'dashboard.css': 'text/css; charset=utf-8',
};

/** The dashboard's routes for `startControl`; sampling starts at once and stops with the server. */
export function dashboard(system: System, options: Omit<MonitorOptions, 'traffic'> = {}): ControlExtension {
  let traffic: Traffic | null = null;
  const monitor = new Monitor(system, { ...options, traffic: () => traffic?.snapshot() ?? null });
  monitor.start();
  const dir = join(packageRoot(), 'src', 'dashboard', 'assets');
  // The chart library the lab report bundles too, from the installed package.
  const paths: Record<string, string> = { 'chart.umd.min.js': chartLibraryPath() };
  const file = (name: string) => (_req: IncomingMessage, res: ServerResponse) => {
    const body = readFileSync(paths[name] ?? join(dir, name));
    res.writeHead(200, {
      'content-type': assets[name]!,
      'content-length': body.length,
      'cache-control': 'no-cache',
      // The page runs only its own script and talks only to this server.
      'content-security-policy': "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
      'x-content-type-options': 'nosniff',
    });
    res.end(body);
  };
  return {
    raw: {
      'GET /': file('index.html'),
      'GET /dashboard.js': file('dashboard.js'),
      'GET /charts.js': file('charts.js'),
      'GET /chart.umd.min.js': file('chart.umd.min.js'),
      'GET /dashboard.css': file('dashboard.css'),
      'GET /events': (req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
        res.write(`event: history\ndata: ${JSON.stringify(monitor.history)}\n\n`);
        const unsubscribe = monitor.subscribe((s) =>
          res.write(`event: snapshot\ndata: ${JSON.stringify(s)}\n\n`),
        );
        req.on('close', unsubscribe);
      },
    },
    routes: {
      'GET /traffic': () => traffic?.snapshot() ?? null,
      'POST /traffic': async (body) => {
        const options = trafficOptions(body);
        await traffic?.stop();
        traffic = new Traffic(system.url, options);
        return traffic.snapshot();
      },
      'POST /traffic/stop': async () => {
        await traffic?.stop();
        return traffic?.snapshot() ?? null;
      },
    },
    close: () => {
      monitor.stop();
      void traffic?.stop();
    },
  };
}
