/** Real Chromium EventSource through the balancer keeps its stream across a kill of its server. */
import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Balancer, createBalancer } from '../../src/balancer/index.js';
import { createRealtime, type Realtime } from '../../src/realtime/index.js';
import type { AppProcess } from '../../src/system/app-process.js';
import { chromiumPath, launchChromium } from '../helpers/chromium.js';
import { realtimeServer } from '../helpers/realtime.js';
import { describeRedis, RedisServer } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/wait.js';

const hasChromium = existsSync(chromiumPath);
if (!hasChromium && process.env.CI === 'true') throw new Error(`${chromiumPath} is missing but CI=true`);
const describeBrowser = hasChromium ? describeRedis : describe.skip;

describeBrowser('realtime in Chromium', () => {
  let redis: RedisServer;
  let servers: AppProcess[];
  let lb: Balancer;
  let browser: Browser;
  let publisher: Realtime;

  beforeAll(async () => {
    redis = await RedisServer.start();
    servers = [realtimeServer('app-1', redis.url), realtimeServer('app-2', redis.url)];
    await Promise.all(servers.map((s) => s.start()));
    lb = createBalancer({ backends: servers.map((s) => s.url), strategy: 'random' });
    await lb.listen(0, '127.0.0.1');
    publisher = createRealtime({ redis: { url: redis.url } });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await publisher?.close({ windowMs: 1 });
    await lb?.close();
    await Promise.all(servers.map((s) => s.kill()));
    await redis?.stop();
  });

  it('EventSource resumes on the other server with Last-Event-ID: every message once, in order', async () => {
    const page = await browser.newPage();
    const base = `http://127.0.0.1:${(lb.server.address() as { port: number }).port}`;
    await page.goto(`${base}/`);
    const channel = `room:browser-${Date.now()}`;
    await page.evaluate((url) => {
      const w = window as unknown as { got: number[]; opens: number; ready: boolean; es: EventSource };
      w.got = [];
      w.ready = false;
      w.opens = 0;
      w.es = new EventSource(url);
      w.es.addEventListener('open', () => w.opens++);
      w.es.addEventListener('ready', () => {
        w.ready = true;
      });
      w.es.addEventListener('message', (e) => w.got.push(JSON.parse(e.data).n));
    }, `${base}/live?channel=${channel}`);
    const got = () => page.evaluate(() => (window as unknown as { got: number[] }).got);
    await waitFor(() => page.evaluate(() => (window as unknown as { ready: boolean }).ready), {
      what: 'the stream to be ready',
    });
    for (let n = 1; n <= 20; n++) await publisher.publish(channel, { n });
    await waitFor(async () => (await got()).length === 20, { what: 'the first 20 messages' });
    const serving = lb.backends().find((b) => b.inFlight > 0)!;
    const victim = servers.find((s) => new URL(s.url).host === serving.id)!;
    await victim.kill();
    for (let n = 21; n <= 40; n++) await publisher.publish(channel, { n });
    await waitFor(async () => (await got()).length >= 40, {
      timeoutMs: 20_000,
      what: 'the messages after the kill',
    });
    expect(await got()).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    const state = await page.evaluate(() => {
      const w = window as unknown as { opens: number; es: EventSource };
      return { opens: w.opens, readyState: w.es.readyState };
    });
    expect(state).toEqual({ opens: 2, readyState: 1 }); // reconnected once, and open
  });
});
