/// <reference lib="dom" />
/**
 * A hostile page in a real browser (Debian's chromium) against the two APIs on loopback: the
 * balancer's admin API and the control API of `unpinned up`. The page is served from another
 * origin on 127.0.0.1 (same site, another port: the worst case, like the shop on the balanced
 * port) and tries what any page can do without a CORS grant: no-cors fetches with text/plain
 * bodies, a form post, preflighted calls. None may change anything.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Balancer, createBalancer } from '../../src/balancer/index.js';
import { dashboard } from '../../src/dashboard/index.js';
import { startControl } from '../../src/system/control.js';
import { System } from '../../src/system/supervisor.js';
import { startBackends, type TestBackend } from '../helpers/backends.js';
import { chromiumPath, launchChromium } from '../helpers/chromium.js';
import { findRedisServer } from '../helpers/redis-server.js';

const canRun = existsSync(chromiumPath) && findRedisServer() !== null;
if (!canRun && process.env.CI === 'true') {
  throw new Error(`CI=true but ${chromiumPath} or redis-server is missing: .ci/run must install them.`);
}

/** The attacker's page: every request a page may send to `target` without a CORS grant. */
function hostilePage(target: string, attempts: { path: string; method: string; body?: string }[]): string {
  return `<!doctype html><title>hostile</title>
<form id="form" method="post" action="${target}${attempts[0]!.path}" target="sink"></form>
<iframe name="sink"></iframe>
<script>
  const target = ${JSON.stringify(target)};
  const attempts = ${JSON.stringify(attempts)};
  const sent = [];
  for (const a of attempts) {
    // Simple requests: no preflight, the browser sends them and only hides the answer.
    sent.push(fetch(target + a.path, { method: a.method, mode: 'no-cors', body: a.body }));
    sent.push(fetch(target + a.path, { method: a.method, mode: 'no-cors', body: a.body,
      headers: { 'content-type': 'text/plain' } }));
    // Preflighted: JSON, or a method other than GET/HEAD/POST.
    sent.push(fetch(target + a.path, { method: a.method, body: a.body,
      headers: { 'content-type': 'application/json' } }));
  }
  const framed = new Promise((resolve) => document.querySelector('iframe').addEventListener('load', resolve));
  document.getElementById('form').submit();
  Promise.allSettled([...sent, framed]).then(() => { document.title = 'done'; });
</script>`;
}

describe.skipIf(!canRun)('a hostile page in a real browser', () => {
  let browser: Browser;
  let page: Server;
  let html = '';
  let pageUrl = '';

  beforeAll(async () => {
    browser = await launchChromium();
    page = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(html));
    await new Promise<void>((resolve) => page.listen(0, '127.0.0.1', resolve));
    pageUrl = `http://127.0.0.1:${(page.address() as AddressInfo).port}/`;
  });
  afterAll(async () => {
    await browser?.close();
    page?.closeAllConnections();
    await new Promise((resolve) => page?.close(resolve));
  });

  async function visit(body: string): Promise<void> {
    html = body;
    const tab = await browser.newPage();
    try {
      await tab.goto(pageUrl);
      await tab.waitForFunction(() => document.title === 'done', undefined, { timeout: 15_000 });
    } finally {
      await tab.close();
    }
  }

  it('changes nothing through the balancer admin API (no token configured)', async () => {
    const servers: TestBackend[] = await startBackends(['a', 'b']);
    const lb: Balancer = createBalancer({
      backends: servers.map((s) => ({ url: s.url, id: s.name })),
      admin: { port: 0 },
    });
    try {
      await lb.listen(0, '127.0.0.1');
      const admin = `http://127.0.0.1:${lb.adminAddress()!.port}`;
      await visit(
        hostilePage(admin, [
          { path: '/servers/a/drain', method: 'POST' },
          {
            path: '/servers',
            method: 'POST',
            body: JSON.stringify({ url: 'http://127.0.0.1:1', id: 'evil' }),
          },
          { path: '/strategy', method: 'POST', body: JSON.stringify({ strategy: 'random' }) },
          { path: '/servers/b', method: 'DELETE' },
        ]),
      );
      expect(lb.backends().map((b) => [b.id, b.state])).toEqual([
        ['a', 'up'],
        ['b', 'up'],
      ]);
      expect(lb.strategy).toBe('round-robin');
    } finally {
      await lb.close();
      await Promise.all(servers.map((s) => s.stop()));
    }
  });

  it('changes nothing through the control API of unpinned up', async () => {
    const system = new System({ servers: 2, port: 0 });
    await system.start();
    const control = await startControl(system, 0, dashboard(system));
    try {
      await visit(
        hostilePage(control.url, [
          { path: '/kill', method: 'POST', body: JSON.stringify({ server: 'app-1' }) },
          { path: '/scale', method: 'POST', body: JSON.stringify({ servers: 1 }) },
          { path: '/strategy', method: 'POST', body: JSON.stringify({ strategy: 'random' }) },
          { path: '/traffic', method: 'POST', body: JSON.stringify({ users: 1, seconds: 60 }) },
        ]),
      );
      const status = system.status();
      expect(status.servers.map((s) => [s.name, s.state])).toEqual([
        ['app-1', 'up'],
        ['app-2', 'up'],
      ]);
      expect(status.balancer.strategy).toBe('round-robin');
      expect(await (await fetch(`${control.url}/traffic`)).json()).toBeNull();
    } finally {
      control.server.closeAllConnections();
      await new Promise((resolve) => control.server.close(resolve));
      await system.stop();
    }
  });
});
