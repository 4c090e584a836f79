/**
 * prom-client registration: an app with its own Registry serves its metrics, the sessions'
 * and the balancer's on one `/metrics`, and the text passes `promtool check metrics` (the
 * Prometheus naming conventions: `_total` counters, base units).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Counter, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { unpinned } from '../../src/adapters/express/index.js';
import { type Balancer, createBalancer } from '../../src/balancer/index.js';
import { createSessions } from '../../src/session/index.js';
import { memoryStore } from '../../src/stores/memory/index.js';

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function listen(app: express.Express): Promise<string> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function value(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? Number.NaN : Number(line.slice(series.length + 1));
}

describe('prom-client: one registry, one endpoint', () => {
  it("shows the app's metrics, the sessions' and the balancer's together", async () => {
    const sessions = createSessions({ store: memoryStore() });
    const registry = new Registry();
    const orders = new Counter({ name: 'app_orders_total', help: 'Orders placed.', registers: [registry] });
    sessions.registerMetrics(registry);
    const app = express();
    app.get('/metrics', async (_req, res) => {
      res.type(registry.contentType).send(await registry.metrics());
    });
    app.use(unpinned(sessions));
    app.post('/order', async (req, res) => {
      await req.session.set('cart', ['tea']);
      orders.inc();
      res.json({ ok: true });
    });
    app.get('/cart', async (req, res) => {
      res.json((await req.session.get('cart')) ?? []);
    });
    const url = await listen(app);
    const lb: Balancer = createBalancer({ backends: [url] });
    closers.push(() => lb.close());
    lb.registerMetrics(registry);
    const lbUrl = `http://127.0.0.1:${(await lb.listen(0)).port}`;

    const created = await fetch(`${lbUrl}/order`, { method: 'POST' });
    const cookie = created.headers.get('set-cookie')!.split(';')[0]!;
    for (let i = 0; i < 3; i++) await (await fetch(`${lbUrl}/cart`, { headers: { cookie } })).text();

    const text = await (await fetch(`${url}/metrics`)).text();
    expect(value(text, 'app_orders_total')).toBe(1);
    expect(value(text, 'unpinned_session_loads_total')).toBe(3);
    expect(value(text, 'unpinned_session_hits_total')).toBe(3);
    expect(value(text, 'unpinned_session_creates_total')).toBe(1);
    expect(
      value(text, 'unpinned_session_store_duration_seconds_count{store="memory",operation="load"}'),
    ).toBe(3);
    expect(
      value(text, 'unpinned_session_store_duration_seconds_count{store="memory",operation="create"}'),
    ).toBe(1);
    expect(value(text, 'unpinned_session_bytes_count{store="memory"}')).toBe(3);
    expect(value(text, `unpinned_lb_requests_total{server="${new URL(url).host}",code="200"}`)).toBe(4);
    expect(value(text, `unpinned_lb_request_attempts_count{server="${new URL(url).host}"}`)).toBe(4);
    expect(text).toMatch(/^# TYPE unpinned_lb_request_duration_seconds histogram$/m);
    expect(text).toMatch(/^# TYPE unpinned_session_loads_total counter$/m);
    // No session token or cookie value in any series.
    expect(text).not.toContain(cookie.split('=')[1]!);

    if (existsSync('/usr/bin/promtool')) {
      // Exit status 0 means no lint problem (a problem prints and exits 3).
      const out = execFileSync('/usr/bin/promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
      expect(out).toBe('');
    }
  });

  it("the balancer's own /metrics is prom-client's exposition and registering twice is refused", async () => {
    const lb = createBalancer({ backends: ['http://127.0.0.1:9'], admin: { port: 0 } });
    closers.push(() => lb.close());
    await lb.listen(0);
    const admin = lb.adminAddress()!;
    const res = await fetch(`http://127.0.0.1:${admin.port}/metrics`);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await res.text();
    expect(text).toMatch(/^# HELP unpinned_lb_retries_total Attempts retried on another server\.$/m);
    expect(value(text, 'unpinned_lb_retries_total')).toBe(0);
    const registry = new Registry();
    lb.registerMetrics(registry);
    expect(() => lb.registerMetrics(new Registry())).not.toThrow();
    const other = createBalancer({ backends: ['http://127.0.0.1:9'] });
    expect(() => other.registerMetrics(registry)).toThrow(/already been registered/);
  });
});
