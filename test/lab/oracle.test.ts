/**
 * The oracle of the lab's virtual users: run against a shop that is made to lose
 * things, it must catch every loss and count it exactly (not roughly, not more).
 */
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createShop } from '../../examples/shop/app.js';
import { runUsers } from '../../src/lab/load.js';
import { VirtualUser } from '../../src/lab/virtual-user.js';
import { createSessions } from '../../src/session/manager.js';
import { memoryStore } from '../../src/stores/memory/index.js';
import { shopServerPath } from '../../src/system/paths.js';
import { System } from '../../src/system/supervisor.js';
import { describeRedis } from '../helpers/redis-server.js';

let close: (() => Promise<void>) | null = null;
afterEach(async () => {
  await close?.();
  close = null;
});

async function startShop(dropEveryNthAdd = 0) {
  const sessions = createSessions({ store: memoryStore({ quiet: true }) });
  const { app, state } = createShop({ sessions, serverName: 'shop-a', dropEveryNthAdd });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  close = () => new Promise((resolve) => server.close(() => resolve()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, state, sessions };
}

const total = (users: VirtualUser[], key: 'itemsLost' | 'sessionsLost' | 'failed' | 'requests') =>
  users.reduce((n, u) => n + u[key], 0);

/** The full user model (log in, browse, add, remove, check out) for a bounded number of requests. */
async function shopFor(users: VirtualUser[], requests: number): Promise<void> {
  const model = { users: users.length, heavyUsers: 2, thinkMs: 2, heavyFactor: 2, seed: 7 };
  await runUsers(users, model, {
    maxRequestsPerUser: requests,
    deadline: performance.now() + 50_000,
    stopped: () => false,
  });
}

describe('lab oracle', () => {
  it('counts every item a shop silently drops, exactly', async () => {
    const shop = await startShop(4);
    const users = Array.from({ length: 6 }, (_, i) => new VirtualUser(shop.url, `user-${i}`));
    await Promise.all(users.map((u) => u.login()));
    await shopFor(users, 80);
    expect(shop.state.droppedAdds).toBeGreaterThan(5);
    expect(total(users, 'itemsLost')).toBe(shop.state.droppedAdds);
    expect(total(users, 'sessionsLost')).toBe(0);
    expect(total(users, 'failed')).toBe(0);
  });

  it('counts nothing against a shop that loses nothing', async () => {
    const shop = await startShop();
    const users = Array.from({ length: 6 }, (_, i) => new VirtualUser(shop.url, `user-${i}`));
    await Promise.all(users.map((u) => u.login()));
    await shopFor(users, 80);
    expect(shop.state.droppedAdds).toBe(0);
    expect(total(users, 'requests')).toBeGreaterThan(6 * 80);
    expect({ items: total(users, 'itemsLost'), sessions: total(users, 'sessionsLost') }).toEqual({
      items: 0,
      sessions: 0,
    });
  });

  it('counts a session ended behind a user’s back, with every item in it', async () => {
    const shop = await startShop();
    const events: { kind: string; count: number }[] = [];
    const onLoss = (kind: string, count: number) => events.push({ kind, count });
    const [ann, bob] = ['ann', 'bob'].map((name) => new VirtualUser(shop.url, name, { onLoss }));
    for (const u of [ann!, bob!]) {
      await u.login();
      for (const sku of ['tea', 'mug', 'tea']) await u.add(sku);
    }
    await ann!.remove('mug');
    // Revoked server-side: for ann, the session and its two teas are gone.
    await shop.sessions.revokeUserSessions('ann');
    await ann!.look();
    await bob!.look();
    expect(ann).toMatchObject({ sessionsLost: 1, itemsLost: 2, loggedIn: false });
    expect(bob).toMatchObject({ sessionsLost: 0, itemsLost: 0, loggedIn: true });
    expect(events).toEqual([
      { kind: 'session', count: 1 },
      { kind: 'items', count: 2 },
    ]);
  });
});

describeRedis('lab oracle on the real system', () => {
  it('counts the adds that shop processes drop (SHOP_FAULT_DROP_EVERY_NTH_ADD), exactly', async () => {
    const system = new System({
      servers: 2,
      port: 0,
      store: 'redis',
      // The documented test fault injector, passed in the environment of each shop process.
      app: ['/usr/bin/env', 'SHOP_FAULT_DROP_EVERY_NTH_ADD=3', process.execPath, shopServerPath()],
    });
    await system.start();
    try {
      const users = Array.from({ length: 6 }, (_, i) => new VirtualUser(system.url, `user-${i}`));
      await Promise.all(users.map((u) => u.login()));
      await shopFor(users, 40);
      let dropped = 0;
      for (const server of system.status().servers) {
        const health = (await (await fetch(`${server.url}/healthz`)).json()) as { droppedAdds: number };
        dropped += health.droppedAdds;
      }
      expect(dropped).toBeGreaterThan(5);
      expect(total(users, 'failed')).toBe(0);
      expect(total(users, 'itemsLost')).toBe(dropped);
    } finally {
      await system.stop();
    }
  });
});
