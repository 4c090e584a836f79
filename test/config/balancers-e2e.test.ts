/**
 * The demo shop behind real HAProxy and real nginx, configured by
 * `unpinned config`: three shop processes on one Redis, shoppers checking
 * every answer, one server killed (SIGKILL) mid-run. Zero sessions lost.
 */
import { createConnection } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { haproxyConfig } from '../../src/config/haproxy.js';
import { nginxConfig } from '../../src/config/nginx.js';
import { resolveProxyConfig } from '../../src/config/options.js';
import { AppProcess } from '../../src/system/app-process.js';
import { shopServerPath } from '../../src/system/paths.js';
import { freePort, RedisServer } from '../../src/system/redis-server.js';
import {
  describeWith,
  type RunningBalancer,
  startHaproxy,
  startNginx,
  tempDir,
} from '../helpers/balancers.js';
import { describeRedis } from '../helpers/redis-server.js';
import { Shopper, shop } from '../helpers/shopper.js';
import { waitFor } from '../helpers/wait.js';

const balancers = {
  haproxy: (backends: string[], port: number, dir: string) =>
    startHaproxy(
      haproxyConfig(
        resolveProxyConfig({ backends, listen: `127.0.0.1:${port}`, intervalMs: 200, rise: 1, fall: 1 }),
        { adminSocket: `${dir}/admin.sock` },
      ),
      dir,
    ),
  nginx: (backends: string[], port: number, dir: string) =>
    startNginx(
      nginxConfig(resolveProxyConfig({ backends, listen: `127.0.0.1:${port}` }), { runDir: dir }),
      dir,
    ),
};

for (const [kind, start] of Object.entries(balancers)) {
  describeRedis(`the shop behind ${kind}`, () => {
    describeWith(kind, `the shop behind ${kind} (${kind} installed)`, () => {
      let redis: RedisServer;
      let shops: AppProcess[] = [];
      let balancer: RunningBalancer;
      let url: string;
      beforeAll(async () => {
        redis = await RedisServer.start();
        shops = ['a', 'b', 'c'].map(
          (n) =>
            new AppProcess({
              name: `shop-${n}`,
              command: [process.execPath, shopServerPath()],
              env: { REDIS_URL: redis.url },
              healthPath: '/healthz',
              startTimeoutMs: 20_000,
              stopTimeoutMs: 5_000,
            }),
        );
        await Promise.all(shops.map((s) => s.start()));
        const port = await freePort();
        url = `http://127.0.0.1:${port}`;
        balancer = start(
          shops.map((s) => s.url),
          port,
          tempDir(),
        );
        // Up when all three servers have answered through it.
        const seen = new Set<string>();
        await waitFor(
          async () => {
            seen.add(await serverOf(url));
            return seen.size === 3;
          },
          { timeoutMs: 20_000, what: `${kind} to reach all three shops` },
        );
      });
      afterAll(async () => {
        await balancer?.stop();
        await Promise.all(shops.map((s) => s.stop()));
        await redis?.close();
      });

      it('loses no session and no item when a server is killed mid-run', async () => {
        const shoppers = Array.from({ length: 12 }, (_, i) => new Shopper(url, `${kind}-shopper-${i}`));
        await Promise.all(shoppers.map((s) => s.login()));
        const victim = shops[1]!;
        let killed = false;
        // The kill happens once the shoppers have been served by it, while they keep shopping.
        const run = shop(
          shoppers,
          (async () => {
            await waitFor(() => shoppers.reduce((n, s) => n + s.requests, 0) >= 60, {
              timeoutMs: 30_000,
              what: 'shoppers to get going',
            });
            await victim.kill();
            killed = true;
            await waitFor(() => shoppers.reduce((n, s) => n + s.requests, 0) >= 240, {
              timeoutMs: 30_000,
              what: 'shoppers to go on after the kill',
            });
          })(),
          { maxRequests: 60, deadlineMs: 45_000 },
        );
        await run;
        expect(killed).toBe(true);
        const after = await Promise.all(shoppers.map((s) => s.look()));
        const failed = shoppers.reduce((n, s) => n + s.failed, 0);
        const requests = shoppers.reduce((n, s) => n + s.requests, 0);
        console.log(
          `${kind}: ${requests} requests, ${failed} failed around the kill, server ${victim.name} killed`,
        );
        expect(shoppers.map((s) => s.sessionsLost)).toEqual(shoppers.map(() => 0));
        expect(shoppers.map((s) => s.itemsLost)).toEqual(shoppers.map(() => 0));
        expect(after.every((a) => a !== null && a.server !== victim.name)).toBe(true);
        expect(shoppers.every((s) => s.loggedIn && s.items > 0)).toBe(true);
      });

      it.runIf(kind === 'haproxy')('drains a server through the admin socket the config opens', async () => {
        const drained = shops[0]!;
        const admin = (command: string) => haproxyAdmin(`${balancer.dir}/admin.sock`, command);
        await admin('set server app/app1 state drain');
        const served = new Set<string>();
        for (let i = 0; i < 12; i++) served.add(await serverOf(url));
        expect(served.has(drained.name)).toBe(false);
        expect(served.size).toBeGreaterThan(0);
        await admin('set server app/app1 state ready');
        await waitFor(async () => (await serverOf(url)) === drained.name, {
          what: 'the drained server to take requests again',
        });
      });
    });
  });
}

/** One command on HAProxy's admin socket; resolves with its answer. */
function haproxyAdmin(path: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let answer = '';
    const socket = createConnection(path, () => socket.end(`${command}\n`));
    socket.on('data', (chunk) => {
      answer += chunk.toString();
    });
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
  });
}

async function serverOf(url: string): Promise<string> {
  const res = await fetch(`${url}/healthz`);
  return ((await res.json()) as { server: string }).server;
}
