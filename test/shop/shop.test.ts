/** The demo shop over its public routes, on the memory store (one process). */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createShop } from '../../examples/shop/app.js';
import { createSessions } from '../../src/session/manager.js';
import { memoryStore } from '../../src/stores/memory/index.js';
import { Client } from '../helpers/express-app.js';

describe('demo shop', () => {
  let url: string;
  let close: () => Promise<void>;
  beforeAll(async () => {
    const sessions = createSessions({ store: memoryStore({ quiet: true }) });
    const { app } = createShop({ sessions, serverName: 'shop-a' });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = () => new Promise((resolve) => server.close(() => resolve()));
  });
  afterAll(() => close());

  const post = (client: Client, path: string, body?: unknown) =>
    client.fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body ?? {}),
    });

  it('logs in, fills and empties a cart, checks out, logs out; every answer names the server', async () => {
    const client = new Client();
    let res = await post(client, '/api/login', { user: 'ann' });
    expect(res.headers.get('x-served-by')).toBe('shop-a');
    expect(await res.json()).toEqual({ server: 'shop-a', user: 'ann', cart: {}, orders: 0 });
    await post(client, '/api/cart/items', { sku: 'tea' });
    await post(client, '/api/cart/items', { sku: 'tea' });
    res = await post(client, '/api/cart/items', { sku: 'mug' });
    expect(((await res.json()) as { cart: unknown }).cart).toEqual({ tea: 2, mug: 1 });
    res = await client.fetch(`${url}/api/cart/items/tea`, { method: 'DELETE' });
    expect(((await res.json()) as { cart: unknown }).cart).toEqual({ tea: 1, mug: 1 });
    res = await post(client, '/api/checkout');
    expect(await res.json()).toMatchObject({ cart: {}, orders: 1 });
    expect((await post(client, '/api/checkout')).status).toBe(409);
    res = await post(client, '/api/logout');
    expect(client.cookie).toBeNull();
    expect(await (await client.fetch(`${url}/api/me`)).json()).toMatchObject({ user: null, cart: {} });
  });

  it('issues a new token at login (the cart comes along) and the token from before is dead', async () => {
    const client = new Client();
    await post(client, '/api/cart/items', { sku: 'tea' });
    const before = client.cookie!;
    const login = await post(client, '/api/login', { user: 'ann' });
    expect(await login.json()).toMatchObject({ user: 'ann', cart: { tea: 1 } });
    expect(client.cookie).not.toBe(before);
    const planted = new Client();
    planted.cookie = before;
    expect(await (await planted.fetch(`${url}/api/me`)).json()).toMatchObject({ user: null, cart: {} });
    // The page form logs out too, and clears the cookie.
    const logout = await client.fetch(`${url}/logout`, { method: 'POST' });
    expect(logout.status).toBe(303);
    expect(client.cookie).toBeNull();
  });

  it('rejects unknown products and bad names without touching the cart', async () => {
    const client = new Client();
    expect((await post(client, '/api/cart/items', { sku: 'nope' })).status).toBe(400);
    expect((await post(client, '/api/login', { user: '' })).status).toBe(400);
    expect(client.cookie).toBeNull();
  });

  it('renders its pages, escaping what users typed', async () => {
    const client = new Client();
    await client.fetch(`${url}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'user=%3Cscript%3E',
    });
    const home = await (await client.fetch(`${url}/`)).text();
    expect(home).toContain('&#60;script&#62;');
    expect(home).not.toContain('<script>');
    expect(home).toContain('data-server>shop-a<');
    const profile = await (await client.fetch(`${url}/profile`)).text();
    expect(profile).toContain('(this one)');
    expect((await client.fetch(`${url}/healthz`)).status).toBe(200);
  });
});
