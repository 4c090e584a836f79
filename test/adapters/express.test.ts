/**
 * The Express adapter end to end, against a real redis-server: several app
 * instances (own servers, own Redis clients, one Redis) sharing sessions.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { createClient } from 'redis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sessionIdOf } from '../../src/session/token.js';
import { type AppInstance, Client, startExpressApp } from '../helpers/express-app.js';
import { describeRedis, RedisServer } from '../helpers/redis-server.js';
import { barrier, waitFor } from '../helpers/wait.js';

type RawClient = ReturnType<typeof createClient>;

async function commandStats(raw: RawClient): Promise<Record<string, number>> {
  const info = await raw.info('commandstats');
  const calls: Record<string, number> = {};
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[match[1]!] = Number(match[2]);
  return calls;
}

function delta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, n] of Object.entries(after)) {
    const d = n - (before[name] ?? 0);
    // The INFO calls that measure are not the request's.
    if (d > 0 && name !== 'info') out[name] = d;
  }
  return out;
}

describeRedis('express adapter on redis', () => {
  let redis: RedisServer;
  let raw: RawClient;
  const apps: AppInstance[] = [];
  beforeAll(async () => {
    // Uncompressed snapshots, so the dump test can search the file byte for byte.
    redis = await RedisServer.start({ persist: true, extraArgs: ['--rdbcompression', 'no'] });
    raw = createClient({ url: redis.url });
    raw.on('error', () => {});
    await raw.connect();
  });
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
  });
  afterAll(async () => {
    await raw?.close().catch(() => {});
    await redis?.close();
  });
  const start = async (n: number, options: Parameters<typeof startExpressApp>[1] = {}) => {
    const started = await Promise.all(Array.from({ length: n }, () => startExpressApp(redis.url, options)));
    apps.push(...started);
    return started;
  };

  describe('three app servers, one session', () => {
    it('lands 200 concurrent writes of different keys spread over three servers', async () => {
      const servers = await start(3);
      const client = new Client();
      await client.fetch(`${servers[0]!.url}/set/seed`, { method: 'POST' });
      const responses = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          client.fetch(`${servers[i % 3]!.url}/set/k${i}`, { method: 'POST' }),
        ),
      );
      expect(responses.every((r) => r.status === 200)).toBe(true);
      const data = (await (await client.fetch(`${servers[1]!.url}/data`)).json()) as Record<string, boolean>;
      expect(Object.keys(data)).toHaveLength(201);
      for (let i = 0; i < 200; i++) expect(data[`k${i}`]).toBe(true);
    });

    it('counts 200 concurrent atomic increments from three servers exactly', async () => {
      const servers = await start(3);
      const client = new Client();
      await client.fetch(`${servers[0]!.url}/set/seed`, { method: 'POST' });
      const responses = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          client.fetch(`${servers[i % 3]!.url}/incr`, { method: 'POST' }),
        ),
      );
      expect(responses.every((r) => r.status === 200)).toBe(true);
      const counts = await Promise.all(responses.map(async (r) => ((await r.json()) as { n: number }).n));
      expect(counts.sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
      expect(((await (await client.fetch(`${servers[2]!.url}/data`)).json()) as { n: number }).n).toBe(200);
    });

    it('keeps a logout when 20 slow requests of that session finish after it', async () => {
      const gate = barrier();
      const servers = await start(3, { release: gate.promise });
      const client = new Client();
      await client.fetch(`${servers[0]!.url}/set/user`, { method: 'POST' });
      const cookie = client.cookie!;
      const slow = Array.from({ length: 20 }, (_, i) =>
        client.fetch(`${servers[i % 3]!.url}/slow/late${i}`, { method: 'POST' }),
      );
      await waitFor(() => servers.reduce((n, s) => n + s.arrived, 0) === 20, {
        what: '20 slow requests in flight',
      });
      const logout = await client.fetch(`${servers[1]!.url}/logout`, { method: 'POST' });
      expect(logout.status).toBe(200);
      expect(logout.headers.get('set-cookie')).toMatch(/Max-Age=0/);
      gate.open();
      const answers = await Promise.all(slow);
      expect(answers.map((r) => r.status)).toEqual(Array(20).fill(200));
      // None of the slow answers resurrected the session or re-issued a cookie.
      expect(answers.every((r) => r.headers.get('set-cookie') === null)).toBe(true);
      const token = cookie.split('=')[1]!;
      expect(await raw.exists(servers[0]!.store.sessionKey(sessionIdOf(token)))).toBe(0);
      const again = new Client();
      again.cookie = cookie;
      expect(await (await again.fetch(`${servers[2]!.url}/data`)).json()).toEqual({});
      const blocked = servers.reduce((n, s) => n + s.sessions.metrics.resurrectionsBlocked, 0);
      expect(blocked).toBe(20);
    });
  });

  describe('round trips (§3.2, §3.3)', () => {
    it('a read-only request is one Redis command and no write; an untouched request is none', async () => {
      const [app] = await start(1);
      const client = new Client();
      await client.fetch(`${app!.url}/set/a`, { method: 'POST' });

      let before = await commandStats(raw);
      expect((await client.fetch(`${app!.url}/data`)).status).toBe(200);
      expect(delta(before, await commandStats(raw))).toEqual({ hgetall: 1 });

      before = await commandStats(raw);
      expect((await client.fetch(`${app!.url}/plain`)).status).toBe(200);
      expect(delta(before, await commandStats(raw))).toEqual({});
    });
  });

  describe('commit before respond (§3.11)', () => {
    it('has the login durable before the redirect reaches the client, on any server', async () => {
      const servers = await start(3);
      for (let i = 0; i < 20; i++) {
        const client = new Client();
        const login = await client.fetch(`${servers[i % 3]!.url}/login`, { method: 'POST' });
        expect(login.status).toBe(303);
        // The very next request, on another server, already sees the new state.
        const data = await (await client.fetch(`${servers[(i + 1) % 3]!.url}/data`)).json();
        expect(data).toEqual({ user: 'ann' });
      }
    });
  });

  describe('the store being down is not a logout (§3.12)', () => {
    it('answers 503 with Retry-After while Redis is stopped, then the same session works again', async () => {
      const [app] = await start(1, { commandTimeout: 300 });
      const client = new Client();
      await client.fetch(`${app!.url}/set/cart`, { method: 'POST' });
      const cookie = client.cookie;
      await redis.stop();
      for (const [method, path] of [
        ['GET', '/data'],
        ['POST', '/set/other'],
      ] as const) {
        // A hang would trip this abort and fail the test; a 503 must come first.
        const res = await client.fetch(`${app!.url}${path}`, { method, signal: AbortSignal.timeout(10_000) });
        expect(res.status).toBe(503);
        expect(res.headers.get('retry-after')).toBe('1');
      }
      expect(client.cookie).toBe(cookie);
      await redis.restart();
      const data = await waitFor(
        async () => {
          const res = await client.fetch(`${app!.url}/data`);
          return res.status === 200 ? ((await res.json()) as Record<string, unknown>) : null;
        },
        { what: 'the app to reconnect to Redis' },
      );
      expect(data).toEqual({ cart: true });
      await raw.connect().catch(() => {});
      await waitFor(() => raw.isReady, { what: 'the test client to reconnect' });
    });

    it('answers 503 within the command deadline when Redis freezes (SIGSTOP), and recovers', async () => {
      const [app] = await start(1, { commandTimeout: 250 });
      const client = new Client();
      await client.fetch(`${app!.url}/set/cart`, { method: 'POST' });
      redis.freeze();
      try {
        const read = await client.fetch(`${app!.url}/data`, { signal: AbortSignal.timeout(10_000) });
        expect(read.status).toBe(503);
        const write = await client.fetch(`${app!.url}/set/x`, {
          method: 'POST',
          signal: AbortSignal.timeout(10_000),
        });
        expect(write.status).toBe(503);
        expect(app!.sessions.metrics.storeErrors).toBe(2);
      } finally {
        redis.thaw();
      }
      const data = await waitFor(async () => {
        const res = await client.fetch(`${app!.url}/data`);
        return res.status === 200 ? ((await res.json()) as Record<string, unknown>) : null;
      });
      expect(data.cart).toBe(true);
    });
  });

  describe('a dump of Redis holds no usable credential (§3.1)', () => {
    it('contains no cookie token, only its hash', async () => {
      const [app] = await start(1);
      const tokens: string[] = [];
      for (let i = 0; i < 10; i++) {
        const client = new Client();
        await client.fetch(`${app!.url}/login`, { method: 'POST' });
        tokens.push(client.cookie!.split('=')[1]!);
      }
      await raw.sendCommand(['SAVE']);
      const dump = readFileSync(join(redis.dir, 'dump.rdb')).toString('latin1');
      // Every key and value, read back through Redis as well.
      let everything = '';
      for await (const keys of raw.scanIterator({ COUNT: 1000 })) {
        for (const key of keys) {
          const type = await raw.type(key);
          const value = type === 'hash' ? await raw.hGetAll(key) : await raw.zRange(key, 0, -1);
          everything += `${key} ${JSON.stringify(value)}\n`;
        }
      }
      for (const token of tokens) {
        expect(dump).not.toContain(token);
        expect(everything).not.toContain(token);
        // The search is meaningful: the session ids are there in plain text.
        expect(dump).toContain(sessionIdOf(token));
        expect(everything).toContain(sessionIdOf(token));
      }
    });
  });

  describe('bad input is harmless (§3.13, property-based)', () => {
    it('never answers 500 to any Cookie header', async () => {
      const [app] = await start(1);
      const legit = new Client();
      await legit.fetch(`${app!.url}/set/a`, { method: 'POST' });
      const header = fc
        .oneof(
          fc.string({ unit: 'binary-ascii' }),
          fc.constant(legit.cookie!),
          fc
            .array(
              fc.constantFrom(
                'sid=',
                legit.cookie!,
                ';',
                '"',
                ' ',
                'x',
                '__Host-sid=',
                legit.cookie!.slice(0, 20),
              ),
            )
            .map((a) => a.join('')),
        )
        .map((h) => h.replace(/[^\x20-\x7e\t]/g, ''));
      await fc.assert(
        fc.asyncProperty(header, async (cookie) => {
          const read = await fetch(`${app!.url}/data`, { headers: { cookie } });
          expect(read.status).toBe(200);
          const write = await fetch(`${app!.url}/set/b`, { method: 'POST', headers: { cookie } });
          expect(write.status).toBe(200);
        }),
        { numRuns: 100 },
      );
    });

    it('never answers 500 whatever garbage the session hash holds', async () => {
      const [app] = await start(1);
      const field = fc.oneof(fc.constantFrom('$m', '$u', 'n', '__proto__'), fc.string({ minLength: 1 }));
      await fc.assert(
        fc.asyncProperty(fc.dictionary(field, fc.string()), async (garbage) => {
          const client = new Client();
          await client.fetch(`${app!.url}/set/a`, { method: 'POST' });
          const key = app!.store.sessionKey(sessionIdOf(client.cookie!.split('=')[1]!));
          if (Object.keys(garbage).length > 0) await raw.hSet(key, garbage);
          expect((await client.fetch(`${app!.url}/data`)).status).toBe(200);
          expect((await client.fetch(`${app!.url}/set/b`, { method: 'POST' })).status).toBe(200);
          expect((await client.fetch(`${app!.url}/incr`, { method: 'POST' })).status).not.toBe(500);
        }),
        { numRuns: 100 },
      );
    });
  });
});
