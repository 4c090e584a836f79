/**
 * The check on apps with one kind of server-local state each, replaying
 * journeys recorded by Chromium: each found at the right step, between the
 * right replicas, with the right culprit; and clean apps (one of them full of
 * noise) called stateless. Checks run a few at a time: each starts real
 * replicas and its own redis-server.
 */
import { join } from 'node:path';
import { createClient } from 'redis';
import { describe, expect, it } from 'vitest';
import { type CheckResult, check } from '../../src/check/index.js';
import { describeRedis, RedisServer } from '../helpers/redis-server.js';

const fixtures = join(import.meta.dirname, '..', 'fixtures', 'check');

let running = 0;
const waiting: (() => void)[] = [];
/** At most three checks at once on a 2-core machine. */
async function limited<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= 3) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

function run(app: string, env: Record<string, string> = {}, har = app): Promise<CheckResult> {
  return limited(() =>
    check({ app: `node apps/${app}.mjs`, har: join(fixtures, 'hars', `${har}.har`), cwd: fixtures, env }),
  );
}

const stateful = [
  // app, step, request, kind, culprit, written on, read on
  ['session-memory', 3, 'GET /account', 'status', 'session-memory', 'replica-2', 'replica-3'],
  ['rate-limit-memory', 3, 'POST /api/login', 'header', 'rate-limit-memory', 'replica-2', 'replica-3'],
  ['csrf-memory', 4, 'POST /transfer', 'status', 'csrf-memory', 'replica-3', 'replica-1'],
  ['oauth-memory', 3, 'GET /callback', 'status', 'oauth-state-memory', 'replica-2', 'replica-3'],
  ['cache-memory', 5, 'GET /api/profile', 'json', 'module-cache', 'replica-1', 'replica-2'],
  ['local-disk', 3, 'GET /files/report.txt', 'status', 'local-disk', 'replica-2', 'replica-3'],
  ['id-sequence', 3, 'POST /api/notes', 'json', 'id-sequence', 'replica-2', 'replica-3'],
  ['socket-io', 3, 'POST /socket.io/', 'status', 'socket-io', 'replica-2', 'replica-3'],
] as const;

describeRedis('unpinned check on fixture apps', () => {
  describe.concurrent('finds the one kind of state each app keeps', () => {
    for (const [app, step, request, kind, culpritId, wroteOn, readOn] of stateful) {
      it(app, async () => {
        const result = await run(app);
        expect(result.verdict).toBe('stateful');
        expect(result.findings).toHaveLength(1);
        expect(result.findings[0]).toMatchObject({ step, request, kind, culpritId, wroteOn, readOn });
        // Every step before the finding answered alike; the steps list says so.
        expect(result.steps.slice(0, step - 1).every((s) => s.same)).toBe(true);
        expect(result.steps[step - 1]!.same).toBe(false);
      });
    }
  });

  it.concurrent('sessions in Redis behind a cookie secret each process made: names the secret, not the store', async () => {
    const result = await run('session-memory', { SESSION_STORE: 'redis', SESSION_SECRET: 'random' });
    expect(result.findings[0]).toMatchObject({ step: 3, culpritId: 'session-memory', readOn: 'replica-3' });
    expect(result.findings[0]!.culprit).toMatch(/^a cookie secret made by each process at startup/);
    expect(result.findings[0]!.evidence.join('\n')).toMatch(
      /the shared store holds this session \(key sess:/,
    );
  });

  it.concurrent('finds notes kept in a Map behind ids made at random', async () => {
    const result = await run('clean-random-ids', { NOTES_STORE: 'memory' });
    expect(result.findings[0]).toMatchObject({
      step: 3,
      kind: 'status',
      culpritId: 'module-state',
      wroteOn: 'replica-2',
      readOn: 'replica-3',
    });
    expect(result.findings[0]!.request).toMatch(/^GET \/notes\/[\w-]{36}$/);
  });

  it.concurrent('finds login tokens kept in a Map, with a journey written in code', async () => {
    const result = await limited(() =>
      check({
        app: 'node apps/bearer-memory.mjs',
        script: join(fixtures, 'journeys', 'bearer.mjs'),
        cwd: fixtures,
      }),
    );
    expect(result.findings[0]).toMatchObject({
      step: 2,
      request: 'GET /api/me',
      kind: 'status',
      culpritId: 'session-memory',
      wroteOn: 'replica-1',
      readOn: 'replica-2',
    });
  });

  describe.concurrent('calls clean apps stateless', () => {
    it('express-session with connect-redis (the same app as session-memory)', async () => {
      const result = await run('session-memory', { SESSION_STORE: 'redis' });
      expect(result).toMatchObject({ verdict: 'stateless', findings: [] });
      expect(result.steps.map((s) => s.replica)).toEqual([
        'replica-1',
        'replica-2',
        'replica-3',
        'replica-1',
      ]);
      expect(result.restart).toEqual({ beforeStep: 4, replica: 'replica-1' });
    });

    it('with --redis, the replicas share the Redis given instead of a private one', async () => {
      const server = await RedisServer.start();
      const client = createClient({ url: server.url });
      try {
        const result = await limited(() =>
          check({
            app: 'node apps/session-memory.mjs',
            har: join(fixtures, 'hars', 'session-memory.har'),
            cwd: fixtures,
            env: { SESSION_STORE: 'redis' },
            redis: server.url,
          }),
        );
        expect(result.verdict).toBe('stateless');
        await client.connect();
        // Every run's session is still there: a Redis the user gave is never emptied.
        expect((await client.keys('sess:*')).length).toBeGreaterThanOrEqual(3);
      } finally {
        await client.close();
        await server.close();
      }
    });

    it('an app full of noise: dates, random ids, nonces, the pid and a boot id in headers and pages', async () => {
      const result = await run('clean-noisy');
      expect(result).toMatchObject({ verdict: 'stateless', findings: [] });
      expect(result.noise.masked).toBeGreaterThan(5);
      // The CSRF token of the login form and the one in the header came from live answers.
      expect(result.steps.filter((s) => s.correlated > 0).map((s) => s.request)).toEqual(
        expect.arrayContaining(['POST /login', 'POST /api/notes']),
      );
    });

    it('ids the app makes at random in paths: a UUID after a redirect, in an API call, a short share link', async () => {
      const result = await run('clean-random-ids');
      expect(result).toMatchObject({ verdict: 'stateless', findings: [] });
      expect(result.steps.map((s) => s.request.replace(/[\w-]{8,}/g, '<id>'))).toEqual([
        'GET /',
        'POST /notes',
        'GET /notes/<id>',
        'PATCH /api/notes/<id>',
        'POST /api/notes/<id>/share',
        'GET /s/<id>',
        'GET /notes/<id>',
      ]);
    });

    it('signed-cookie sessions on plain node:http, no store at all', async () => {
      expect(await run('clean-cookie')).toMatchObject({ verdict: 'stateless', findings: [] });
    });
  });
});
