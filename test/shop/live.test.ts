/** The shop goes live: a change in one tab shows in every open tab and device of the user, across servers. */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Balancer, createBalancer } from '../../src/balancer/index.js';
import { AppProcess } from '../../src/system/app-process.js';
import { describeRedis, RedisServer } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/wait.js';

const shop = fileURLToPath(new URL('../../dist/examples/shop/server.js', import.meta.url));

describeRedis('shop live updates', () => {
  let redis: RedisServer;
  let servers: AppProcess[];
  let lb: Balancer;
  let base: string;

  beforeAll(async () => {
    redis = await RedisServer.start();
    servers = ['shop-1', 'shop-2'].map(
      (name) =>
        new AppProcess({
          name,
          command: [process.execPath, shop],
          env: { REDIS_URL: redis.url },
          healthPath: '/healthz',
          startTimeoutMs: 15_000,
          stopTimeoutMs: 10_000,
        }),
    );
    await Promise.all(servers.map((s) => s.start()));
    lb = createBalancer({ backends: servers.map((s) => s.url), strategy: 'round-robin' });
    base = `http://127.0.0.1:${(await lb.listen(0, '127.0.0.1')).port}`;
  });

  afterAll(async () => {
    await lb?.close();
    await Promise.all((servers ?? []).map((s) => s.kill()));
    await redis?.stop();
  });

  async function login(user: string): Promise<string> {
    const res = await fetch(`${base}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user }),
    });
    return res.headers.get('set-cookie')!.split(';')[0]!;
  }

  it("pushes the cart and order count to the session's other tabs through SSE, across servers", async () => {
    const phone = await login('ann');
    const laptop = phone; // two tabs of one browser
    const other = await login('ann'); // another device: its own session and cart
    const page = await (await fetch(`${base}/`, { headers: { cookie: laptop } })).text();
    expect(page).toContain("new EventSource('/live?channel=session:'");
    const session = /data-session="([^"]+)"/.exec(page)![1]!;
    const otherPage = await (await fetch(`${base}/`, { headers: { cookie: other } })).text();
    const otherSession = /data-session="([^"]+)"/.exec(otherPage)![1]!;
    const controller = new AbortController();
    const stream = await fetch(`${base}/live?channel=session:${session}`, {
      headers: { accept: 'text/event-stream', cookie: laptop },
      signal: controller.signal,
    });
    expect(stream.status).toBe(200);
    const reader = stream.body!.getReader();
    let text = '';
    const until = async (wanted: string) => {
      while (!text.includes(wanted)) text += new TextDecoder().decode((await reader.read()).value);
    };
    await until('event: ready');
    // Another session's channel is not this browser's to read.
    expect(
      (
        await fetch(`${base}/live?channel=session:${otherSession}`, {
          headers: { accept: 'text/event-stream', cookie: laptop },
        })
      ).status,
    ).toBe(403);
    for (const sku of ['tea', 'mug', 'tea']) {
      await fetch(`${base}/api/cart/items`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie: phone },
        body: JSON.stringify({ sku }),
      });
    }
    await until('{"cart":{"tea":2,"mug":1},"orders":0}');
    await fetch(`${base}/api/checkout`, { method: 'POST', headers: { cookie: phone } });
    await until('{"cart":{},"orders":1}');
    controller.abort();
    await waitFor(() => lb.backends().every((b) => b.inFlight === 0));
  });
});
