/**
 * The express-session drop-in store (docs/migrating.md, Option A) under the
 * concurrency a browser makes: an express-session app unchanged but for its
 * store line, as three real processes on one real Redis, one session's
 * requests in flight together across all three. Each scenario runs several
 * rounds, so "every run" is what is tested, not one lucky run.
 */
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from 'redis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  type Apps,
  complete,
  disjointKeys,
  heldTogether,
  login,
  logoutInFlight,
  readSession,
  startApps,
} from '../../bench/express-session-apps.js';
import { sessionIdOf } from '../../src/session/token.js';
import { redisStore } from '../../src/stores/redis/index.js';
import { buildPackage, makeSelfImportable } from '../helpers/build.js';
import { describeRedis, RedisServer } from '../helpers/redis-server.js';

const fixture = fileURLToPath(new URL('../fixtures/express-session-app.mjs', import.meta.url));
const docs = fileURLToPath(new URL('../../docs/migrating.md', import.meta.url));
const ROUNDS = 5;

/** The Redis key the drop-in keeps this cookie's session under. */
function sessionKeyOf(cookie: string, client: ReturnType<typeof createClient>): string {
  const sid = decodeURIComponent(cookie.split('=')[1]!).slice(2).split('.')[0]!;
  return redisStore({ client }).sessionKey(sessionIdOf(sid));
}

describeRedis('express-session drop-in store: three app processes on one Redis', () => {
  let redis: RedisServer;
  let build: Awaited<ReturnType<typeof buildPackage>>;
  let apps: Apps;
  let raw: ReturnType<typeof createClient>;
  beforeAll(async () => {
    redis = await RedisServer.start();
    build = await buildPackage();
    makeSelfImportable(build.dist);
    // Inside the build, the app's `unpinned/...` imports resolve to this checkout's code.
    const app = join(build.dist, 'express-session-app.mjs');
    copyFileSync(fixture, app);
    apps = await startApps(app, 'unpinned', redis.url);
    raw = createClient({ url: redis.url });
    raw.on('error', () => {});
    await raw.connect();
  }, 180_000);
  afterAll(async () => {
    await apps?.stop();
    build?.remove();
    await raw?.close().catch(() => {});
    await redis?.close();
  });

  it('lands 200 of 200 keys set by 200 concurrent requests of one session, every round', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      expect(await disjointKeys(apps.urls, 200), `round ${round}`).toBe(200);
    }
  }, 240_000);

  it('keeps a logout with 20 slow requests in flight: logged out, and no session in Redis, every round', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const { cookie, undone } = await logoutInFlight(apps.urls, 20);
      expect(undone, `round ${round}`).toBe(false);
      for (const url of apps.urls) expect(await readSession(url, cookie)).toEqual({});
      expect(await raw.exists(sessionKeyOf(cookie, raw))).toBe(0);
    }
  }, 240_000);

  it('keeps a logout with 20 requests in flight that only read (a touch each): gone, every round', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const { cookie, undone } = await logoutInFlight(apps.urls, 20, () => '/read?hold');
      expect(undone, `round ${round}`).toBe(false);
      expect(await raw.exists(sessionKeyOf(cookie, raw))).toBe(0);
    }
  }, 240_000);

  it('a request that deletes one key leaves a key added meanwhile alone, every round', async () => {
    const [a, b, c] = apps.urls as [string, string, string];
    for (let round = 0; round < ROUNDS; round++) {
      const cookie = await login(a);
      await complete(`${a}/set/coupon`, cookie);
      await heldTogether(apps.urls, [`${b}/delete/coupon?hold`], cookie, async () => {
        await complete(`${c}/set/theme?value=dark`, cookie);
      });
      expect(await readSession(a, cookie), `round ${round}`).toEqual({ user: 'ann', theme: 'dark' });
    }
  });

  it('two requests deleting different keys both land, every round', async () => {
    const [a, b, c] = apps.urls as [string, string, string];
    for (let round = 0; round < ROUNDS; round++) {
      const cookie = await login(a);
      for (const key of ['coupon', 'banner']) await complete(`${a}/set/${key}`, cookie);
      await heldTogether(apps.urls, [`${b}/delete/coupon?hold`, `${c}/delete/banner?hold`], cookie);
      expect(await readSession(a, cookie), `round ${round}`).toEqual({ user: 'ann' });
    }
  });

  it('one key set by two requests keeps the value of the save that ran last, every round', async () => {
    const [a, b, c] = apps.urls as [string, string, string];
    for (let round = 0; round < ROUNDS; round++) {
      const cookie = await login(a);
      // The held request loaded the session first but saves last: its value stays.
      await heldTogether(apps.urls, [`${b}/set/lang?value=de&hold`], cookie, async () => {
        await complete(`${c}/set/lang?value=fr`, cookie);
      });
      expect((await readSession(a, cookie)).lang, `round ${round}`).toBe('de');
      await complete(`${c}/set/lang?value=fr`, cookie);
      expect((await readSession(b, cookie)).lang, `round ${round}`).toBe('fr');
    }
  });

  it('is the code docs/migrating.md shows for Option A, line for line', () => {
    const app = readFileSync(fixture, 'utf8');
    const section =
      /\/\/ docs\/migrating\.md, Option A: begin\n([\s\S]*?)\n\s*\/\/ docs\/migrating\.md, Option A: end/.exec(
        app,
      )![1]!;
    const indent = /^ */.exec(section)![0].length;
    const code = section
      .split('\n')
      .map((line) => line.slice(indent))
      .join('\n');
    const blocks = [...readFileSync(docs, 'utf8').matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]!);
    const shown = blocks.find((block) => block.includes('expressSessionStore(redisStore'));
    expect(shown).toContain(code);
    const imports = shown!.split('\n').filter((line) => line.startsWith('import '));
    expect(imports.length).toBeGreaterThan(0);
    for (const line of imports) expect(app.split('\n')).toContain(line);
  });
});
