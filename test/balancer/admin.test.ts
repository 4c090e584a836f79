/**
 * The admin API on its own loopback port: membership, drain, strategy, token, /metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Balancer, createBalancer } from '../../src/balancer/index.js';
import { refusedPort, startBackends, type TestBackend } from '../helpers/backends.js';
import { send } from '../helpers/client.js';

let servers: TestBackend[];
let lb: Balancer;
let base: string;
let admin: string;
const token = 'test-admin-token';
const auth = { authorization: `Bearer ${token}` };

beforeAll(async () => {
  servers = await startBackends(['a', 'b', 'c']);
  lb = createBalancer({
    backends: servers.slice(0, 2).map((s) => ({ url: s.url, id: s.name })),
    strategy: 'round-robin',
    admin: { port: 0, token },
  });
  base = `http://127.0.0.1:${(await lb.listen(0, '127.0.0.1')).port}`;
  const address = lb.adminAddress()!;
  admin = `http://${address.address}:${address.port}`;
});
afterAll(async () => {
  await lb.close();
  await Promise.all(servers.map((s) => s.stop()));
});

const call = (method: string, path: string, body?: unknown) =>
  send(`${admin}${path}`, {
    method,
    headers: { ...auth, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

describe('admin API', () => {
  it('listens on loopback by default, on its own port', () => {
    expect(lb.adminAddress()!.address).toBe('127.0.0.1');
    expect(admin).not.toBe(base);
  });

  it('requires the bearer token when one is configured', async () => {
    const none = await send(`${admin}/servers`);
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer');
    expect(none.json<{ error: { code: string } }>().error.code).toBe('UNPINNED_ERR_LB_UNAUTHORIZED');
    expect((await send(`${admin}/servers`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await call('GET', '/servers')).status).toBe(200);
  });

  it('lists, adds, drains, undrains and removes servers', async () => {
    const list = (await call('GET', '/servers')).json<{ strategy: string; servers: { id: string }[] }>();
    expect(list.strategy).toBe('round-robin');
    expect(list.servers.map((s) => s.id)).toEqual(['a', 'b']);

    const added = await call('POST', '/servers', { url: servers[2]!.url, id: 'c' });
    expect(added.status).toBe(201);
    expect(added.json()).toMatchObject({ id: 'c', state: 'up', inFlight: 0, requests: 0 });
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) seen.add(String((await send(`${base}/`)).headers['x-backend']));
    expect([...seen].sort()).toEqual(['a', 'b', 'c']);

    expect((await call('POST', '/servers', { url: servers[2]!.url })).status).toBe(409);
    // A server added drained (still starting) is known but takes nothing until undrained.
    const starting = await startBackends(['d']);
    const d = await call('POST', '/servers', { url: starting[0]!.url, id: 'd', draining: true });
    expect(d.json()).toMatchObject({ id: 'd', state: 'draining' });
    for (let i = 0; i < 4; i++) expect((await send(`${base}/`)).headers['x-backend']).not.toBe('d');
    await call('DELETE', '/servers/d');
    await starting[0]!.stop();
    const drained = await call('POST', '/servers/c/drain?wait=1');
    expect(drained.json()).toMatchObject({ id: 'c', state: 'draining', inFlight: 0 });
    for (let i = 0; i < 4; i++) expect((await send(`${base}/`)).headers['x-backend']).not.toBe('c');
    expect((await call('POST', '/servers/c/undrain')).json()).toMatchObject({ state: 'up' });

    expect((await call('DELETE', '/servers/c')).status).toBe(200);
    expect(lb.backends().map((s) => s.id)).toEqual(['a', 'b']);
    const missing = await call('POST', '/servers/nope/drain');
    expect(missing.status).toBe(404);
    expect(missing.json<{ error: { code: string } }>().error.code).toBe('UNPINNED_ERR_LB_UNKNOWN_BACKEND');
  });

  it('changes the strategy at run time', async () => {
    expect((await call('PUT', '/strategy', { strategy: 'least-connections' })).json()).toEqual({
      strategy: 'least-connections',
    });
    expect(lb.strategy).toBe('least-connections');
    const bad = await call('PUT', '/strategy', { strategy: 'fastest' });
    expect(bad.status).toBe(400);
    expect(bad.json<{ error: { code: string } }>().error.code).toBe('UNPINNED_ERR_LB_UNKNOWN_STRATEGY');
    expect((await call('GET', '/strategy')).json()).toEqual({ strategy: 'least-connections' });
    await call('PUT', '/strategy', { strategy: 'round-robin' });
  });

  it('serves Prometheus metrics: requests, errors, latency, in-flight, retries, ejections', async () => {
    const dead = await refusedPort();
    await call('POST', '/servers', { url: `http://127.0.0.1:${dead}`, id: 'dead' });
    for (let i = 0; i < 9; i++) expect((await send(`${base}/`)).status).toBe(200);
    const res = await call('GET', '/metrics');
    expect(res.headers['content-type']).toContain('text/plain; version=0.0.4');
    const text = res.text;
    const value = (re: RegExp) => Number(re.exec(text)?.[1]);
    expect(value(/^unpinned_lb_requests_total\{server="a",code="200"\} (\d+)$/m)).toBeGreaterThan(0);
    expect(value(/^unpinned_lb_retries_total (\d+)$/m)).toBeGreaterThanOrEqual(3);
    expect(value(/^unpinned_lb_request_duration_seconds_count\{server="a"\} (\d+)$/m)).toBe(
      value(/^unpinned_lb_request_duration_seconds_bucket\{server="a",le="\+Inf"\} (\d+)$/m),
    );
    expect(text).toMatch(/^unpinned_lb_in_flight\{server="b"\} 0$/m);
    expect(text).toMatch(/^# TYPE unpinned_lb_request_duration_seconds histogram$/m);
    expect(text).toMatch(/^unpinned_lb_server_up\{server="dead",state="(up|ejected)"\} [01]$/m);
    expect(text).toMatch(/^unpinned_lb_ejections_total\{server="dead"\} \d+$/m);
    await call('DELETE', '/servers/dead');
  });
});

describe('admin API against browsers (DNS rebinding, cross-site requests)', () => {
  let open: Balancer;
  let url: string;
  let port: number;
  beforeAll(async () => {
    // No token: loopback and the browser guards are all that protect it.
    open = createBalancer({
      backends: servers.slice(0, 2).map((s) => ({ url: s.url, id: s.name })),
      admin: { port: 0 },
    });
    await open.listen(0, '127.0.0.1');
    port = open.adminAddress()!.port;
    url = `http://127.0.0.1:${port}`;
  });
  afterAll(() => open.close());

  const json = { 'content-type': 'application/json' };
  const code = (reply: { json<T>(): T }) => reply.json<{ error: { code: string } }>().error.code;

  it('answers only a Host that a DNS-rebinding page cannot send when it has no token', async () => {
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, '127.0.0.1']) {
      expect((await send(`${url}/servers`, { headers: { host } })).status, host).toBe(200);
    }
    for (const host of [`evil.example:${port}`, 'evil.example', `127.0.0.1.nip.io:${port}`, '']) {
      const reply = await send(`${url}/servers`, { headers: { host } });
      expect(reply.status, host).toBe(421);
      expect(code(reply)).toBe('UNPINNED_ERR_LB_FORBIDDEN');
    }
    // A rebinding page cannot add a server of its own either.
    const post = await send(`${url}/servers`, {
      method: 'POST',
      headers: { ...json, host: `evil.example:${port}` },
      body: JSON.stringify({ url: 'http://127.0.0.1:1', id: 'evil' }),
    });
    expect(post.status).toBe(421);
    expect(open.backends().map((b) => b.id)).toEqual(['a', 'b']);
  });

  it('refuses state changes a page on another origin sent, and bodies not declared JSON', async () => {
    const evil = { url: 'http://127.0.0.1:1', id: 'evil' };
    // What a cross-site form or a no-cors fetch can send without a CORS preflight: text/plain.
    const plain = await send(`${url}/servers`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain;charset=UTF-8' },
      body: JSON.stringify(evil),
    });
    expect(plain.status).toBe(415);
    expect(code(plain)).toBe('UNPINNED_ERR_LB_FORBIDDEN');
    const form = await send(`${url}/strategy`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'strategy=random',
    });
    expect(form.status).toBe(415);
    // A body-less POST from a page: the browser says where it came from.
    const pageHeaders: Record<string, string>[] = [
      { origin: 'http://evil.example' },
      { origin: 'null' },
      { origin: 'http://127.0.0.1:8080' }, // same site, another origin: the shop on the balanced port
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site' },
    ];
    for (const headers of pageHeaders) {
      const drain = await send(`${url}/servers/a/drain`, { method: 'POST', headers });
      expect(drain.status, JSON.stringify(headers)).toBe(403);
      expect(code(drain)).toBe('UNPINNED_ERR_LB_FORBIDDEN');
    }
    const del = await send(`${url}/servers/a`, {
      method: 'DELETE',
      headers: { origin: 'http://evil.example' },
    });
    expect(del.status).toBe(403);
    expect(open.backends().map((b) => [b.id, b.state])).toEqual([
      ['a', 'up'],
      ['b', 'up'],
    ]);
    expect(open.strategy).toBe('round-robin');
    // Its own origin, the user's own navigation, and curl (no Origin, no Sec-Fetch-Site) pass.
    const own = { origin: url, 'sec-fetch-site': 'same-origin' };
    expect((await send(`${url}/servers/a/drain`, { method: 'POST', headers: own })).status).toBe(200);
    expect((await send(`${url}/servers/a/undrain`, { method: 'POST' })).status).toBe(200);
    const added = await send(`${url}/servers`, {
      method: 'POST',
      headers: { 'content-type': 'Application/JSON; charset=utf-8' },
      body: JSON.stringify({ url: servers[2]!.url, id: 'c' }),
    });
    expect(added.status).toBe(201);
    expect((await send(`${url}/servers/c`, { method: 'DELETE' })).status).toBe(200);
  });

  it('accepts the bearer scheme in any case (RFC 9110 §11.1)', async () => {
    expect((await send(`${admin}/healthz`, { headers: { authorization: `bearer ${token}` } })).status).toBe(
      200,
    );
    expect((await send(`${admin}/healthz`, { headers: { authorization: `BEARER ${token}` } })).status).toBe(
      200,
    );
    expect((await send(`${admin}/healthz`, { headers: { authorization: `Basic ${token}` } })).status).toBe(
      401,
    );
  });

  it('will not listen beyond loopback without a token, nor with an empty one', () => {
    const backends = [servers[0]!.url];
    for (const host of ['0.0.0.0', '::', '192.0.2.10', 'lb.example']) {
      expect(() => createBalancer({ backends, admin: { port: 0, host } }), host).toThrow(
        expect.objectContaining({
          code: 'UNPINNED_ERR_LB_INVALID_OPTION',
          message: expect.stringContaining('admin.host'),
        }),
      );
    }
    expect(() => createBalancer({ backends, admin: { port: 0, host: '0.0.0.0', token: '' } })).toThrow(
      /admin\.token/,
    );
    expect(() =>
      createBalancer({ backends, admin: { port: 0, host: '0.0.0.0', token: 'x'.repeat(32) } }),
    ).not.toThrow();
    for (const host of ['127.0.0.1', '127.0.0.2', '::1', 'localhost'])
      expect(() => createBalancer({ backends, admin: { port: 0, host } }), host).not.toThrow();
  });
});
