/**
 * Header rules end to end: hop-by-hop headers removed both ways, X-Forwarded-* from untrusted
 * and trusted peers, and the optional x-served-by header.
 */
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Balancer, type BalancerOptions, createBalancer } from '../../src/balancer/index.js';
import { startBackends, type TestBackend } from '../helpers/backends.js';
import { send } from '../helpers/client.js';

let servers: TestBackend[];
const balancers: Balancer[] = [];
beforeAll(async () => {
  servers = await startBackends(['a', 'b', 'c']);
});
afterAll(async () => {
  await Promise.all(balancers.map((b) => b.close()));
  await Promise.all(servers.map((s) => s.stop()));
});

async function balance(options: Partial<BalancerOptions> = {}): Promise<{ port: number; base: string }> {
  const lb = createBalancer({ backends: servers.map((s) => ({ url: s.url, id: s.name })), ...options });
  balancers.push(lb);
  const { port } = await lb.listen(0, '127.0.0.1');
  return { port, base: `http://127.0.0.1:${port}` };
}

/** node:http lets a test send headers that undici refuses to send (Connection, Upgrade, TE...). */
function rawGet(
  port: number,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/h', headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Headers of the one request the servers received while `fn` ran. */
async function seenDuring(
  fn: () => Promise<unknown>,
): Promise<Record<string, string | string[] | undefined>> {
  for (const s of servers) s.received.length = 0;
  await fn();
  const all = servers.flatMap((s) => s.received);
  expect(all).toHaveLength(1);
  return all[0]!.headers;
}

describe('hop-by-hop headers', () => {
  it('removes them from the request, including those named in Connection', async () => {
    const { port } = await balance();
    const seen = await seenDuring(() =>
      rawGet(port, {
        connection: 'keep-alive, x-secret',
        'x-secret': 'for the next hop only',
        'keep-alive': 'timeout=5',
        'proxy-connection': 'keep-alive',
        te: 'trailers',
        upgrade: 'h2c',
        'x-app': 'kept',
      }),
    );
    expect(seen['x-app']).toBe('kept');
    for (const h of ['x-secret', 'keep-alive', 'proxy-connection', 'te', 'upgrade'])
      expect(seen[h]).toBeUndefined();
    expect(seen.connection).toBe('keep-alive'); // the balancer's own hop to the server
  });

  it('removes them from the response', async () => {
    for (const s of servers) {
      s.handler = (_req, res) => {
        res.setHeader('connection', 'x-internal');
        res.setHeader('x-internal', 'server-to-proxy');
        res.setHeader('keep-alive', 'timeout=99');
        res.setHeader('trailer', 'x-checksum');
        res.setHeader('x-app', 'kept');
        res.end('ok');
      };
    }
    const { port } = await balance();
    const reply = await rawGet(port, {});
    for (const s of servers) s.handler = undefined;
    expect(reply.body).toBe('ok');
    expect(reply.headers['x-app']).toBe('kept');
    expect(reply.headers['x-internal']).toBeUndefined();
    expect(reply.headers.trailer).toBeUndefined();
    expect(reply.headers['keep-alive']).not.toBe('timeout=99');
  });
});

describe('X-Forwarded-*', () => {
  const spoof = {
    'x-forwarded-for': '6.6.6.6',
    'x-forwarded-proto': 'https',
    'x-forwarded-host': 'evil.example',
    forwarded: 'for=6.6.6.6',
  };

  it('from an untrusted peer: drops what the client claims and sets the real values', async () => {
    const { base, port } = await balance();
    const seen = await seenDuring(() => send(`${base}/`, { headers: { ...spoof, host: 'shop.example' } }));
    expect(seen['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen['x-forwarded-proto']).toBe('http');
    expect(seen['x-forwarded-host']).toBe('shop.example');
    expect(seen.host).toBe('shop.example'); // Host is passed through unchanged
    expect(seen.forwarded).toBeUndefined();
    expect(port).toBeGreaterThan(0);
  });

  it('from a trusted proxy: keeps the chain and appends the peer', async () => {
    const { base } = await balance({ trustedProxies: ['127.0.0.0/8', '::1'] });
    const seen = await seenDuring(() =>
      send(`${base}/`, {
        headers: { ...spoof, 'x-forwarded-for': '203.0.113.7, 10.0.0.2', host: 'shop.example' },
      }),
    );
    expect(seen['x-forwarded-for']).toBe('203.0.113.7, 10.0.0.2, 127.0.0.1');
    expect(seen['x-forwarded-proto']).toBe('https');
    expect(seen['x-forwarded-host']).toBe('evil.example');
    expect(seen.forwarded).toBe('for=6.6.6.6');
  });

  it('ip-hash uses the client address from a trusted proxy, not the proxy itself', async () => {
    const { base } = await balance({ trustedProxies: ['127.0.0.1'], strategy: 'ip-hash' });
    const serverFor = async (ip: string) =>
      String((await send(`${base}/`, { headers: { 'x-forwarded-for': ip } })).headers['x-backend']);
    const clients = Array.from({ length: 30 }, (_, i) => `198.51.100.${i + 1}`);
    const first = await Promise.all(clients.map(serverFor));
    expect(new Set(first).size).toBeGreaterThan(1); // different clients, different servers
    expect(await Promise.all(clients.map(serverFor))).toEqual(first); // each client stays put
  });

  it('can be turned off', async () => {
    const { base } = await balance({ forwardedHeaders: false });
    const seen = await seenDuring(() => send(`${base}/`));
    expect(seen['x-forwarded-for']).toBeUndefined();
    expect(seen['x-forwarded-proto']).toBeUndefined();
  });
});

describe('x-served-by', () => {
  it('is off by default and names the server when configured', async () => {
    const off = await balance();
    expect((await send(`${off.base}/`)).headers['x-served-by']).toBeUndefined();
    const on = await balance({ servedByHeader: 'x-upstream' });
    const reply = await send(`${on.base}/`);
    expect(reply.headers['x-upstream']).toBe(reply.headers['x-backend']);
  });
});
