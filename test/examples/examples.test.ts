/**
 * The Hono, Fastify and Next.js-style examples, run for real: each started on
 * a real server (or called as the route handler it is) on a private Redis, two
 * copies of each app sharing one session as they would behind a balancer.
 */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../examples/fastify-cart/app.js';
import { createApp } from '../../examples/hono-cart/app.js';
import { createSessions } from '../../src/session/manager.js';
import { redisStore } from '../../src/stores/redis/index.js';
import { describeRedis, RedisServer } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/wait.js';

/** A browser tab against several servers: one cookie, JSON in and out. */
function browser() {
  let cookie: string | null = null;
  return async (url: string, method = 'GET', body?: unknown) => {
    const res = await fetch(url, {
      method,
      headers: { ...(cookie ? { cookie } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const setCookie = res.headers.get('set-cookie');
    if (setCookie) cookie = /Max-Age=0/.test(setCookie) ? null : setCookie.split(';')[0]!;
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };
}

async function shopAcross(urls: string[]) {
  const tab = browser();
  expect((await tab(`${urls[0]}/api/state`)).json).toEqual({ user: null, cart: [] });
  expect((await tab(`${urls[0]}/login`, 'POST', { name: 'ann' })).json).toEqual({ user: 'ann' });
  await Promise.all(
    ['apple', 'pear', 'plum', 'fig'].map((item, i) => tab(`${urls[i % 2]}/cart`, 'POST', { item })),
  );
  const state = (await tab(`${urls[1]}/api/state`)).json;
  expect(state.user).toBe('ann');
  expect((state.cart as string[]).sort()).toEqual(['apple', 'fig', 'pear', 'plum']);
  expect((await tab(`${urls[1]}/logout`, 'POST')).status).toBe(200);
  expect((await tab(`${urls[0]}/api/state`)).json).toEqual({ user: null, cart: [] });
}

describeRedis('examples', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterAll(async () => {
    await redis?.close();
  });

  it('hono-cart: two servers share the session through the web adapter', async () => {
    const stores = [redisStore({ url: redis.url }), redisStore({ url: redis.url })];
    const servers = await Promise.all(
      stores.map(async (store) => {
        await store.ready();
        const server = serve({
          fetch: createApp(createSessions({ store })).fetch,
          port: 0,
          hostname: '127.0.0.1',
        });
        await new Promise((resolve) => server.once('listening', resolve));
        return server;
      }),
    );
    try {
      await shopAcross(servers.map((s) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`));
    } finally {
      await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('fastify-cart: two servers on their own ioredis clients share the session', async () => {
    // Configured as the example's main configures its client.
    const options = { autoResendUnfulfilledCommands: false, socketTimeout: 500 };
    const clients = [new Redis(redis.url, options), new Redis(redis.url, options)];
    for (const client of clients) client.on('error', () => {});
    await waitFor(() => clients.every((c) => c.status === 'ready'), { what: 'ioredis clients' });
    const apps = await Promise.all(
      clients.map((client) => buildApp(createSessions({ store: redisStore({ client }) }))),
    );
    try {
      const urls = await Promise.all(apps.map((app) => app.listen({ port: 0, host: '127.0.0.1' })));
      await shopAcross(urls);
    } finally {
      await Promise.all(apps.map((app) => app.close()));
      for (const client of clients) client.disconnect();
    }
  });

  describe('next-route', () => {
    it('route handlers keep the cart in the session, committed before the Response', async () => {
      process.env.REDIS_URL = redis.url;
      const route = await import('../../examples/next-route/route.js');
      const { sessions, store } = await import('../../examples/next-route/sessions.js');
      try {
        if ('ready' in store) await store.ready();
        const url = 'http://localhost/api/cart';
        const post = (item: unknown, cookie?: string) =>
          route.POST(
            new Request(url, {
              method: 'POST',
              body: JSON.stringify({ item }),
              headers: cookie ? { cookie } : {},
            }),
          );
        const first = await post('apple');
        expect(first.status).toBe(200);
        const cookie = first.headers.get('set-cookie')!.split(';')[0]!;
        expect(cookie).toMatch(/^sid=[\w-]{43}$/);
        expect(await (await post('pear', cookie)).json()).toEqual({ cart: ['apple', 'pear'] });
        expect((await post(42, cookie)).status).toBe(400);
        const read = await route.GET(new Request(url, { headers: { cookie } }));
        expect(await read.json()).toEqual({ cart: ['apple', 'pear'] });
        expect(read.headers.get('set-cookie')).toBeNull();
        const gone = await route.DELETE(new Request(url, { method: 'DELETE', headers: { cookie } }));
        expect(gone.status).toBe(204);
        expect(gone.headers.get('set-cookie')).toMatch(/^sid=; Max-Age=0/);
        expect(await (await route.GET(new Request(url, { headers: { cookie } }))).json()).toEqual({
          cart: [],
        });
      } finally {
        delete process.env.REDIS_URL;
        await sessions.close();
      }
    });
  });
});
