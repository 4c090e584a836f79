/**
 * The running system end to end: real shop processes, a real redis-server, the
 * balancer in front. Crashes, rolling deploys and scaling under load, counted
 * by customers that check every answer against what they did.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { System } from '../../src/system/supervisor.js';
import { running } from '../helpers/processes.js';
import { describeRedis } from '../helpers/redis-server.js';
import { Shopper, shop } from '../helpers/shopper.js';
import { waitFor } from '../helpers/wait.js';

let system: System | null = null;
afterEach(async () => {
  await system?.stop();
  system = null;
});

async function startSystem(options: ConstructorParameters<typeof System>[0] = {}): Promise<System> {
  system = new System({ servers: 3, port: 0, ...options });
  await system.start();
  return system;
}

async function fillCart(s: Shopper): Promise<void> {
  await s.login();
  for (const sku of ['tea', 'mug', 'tea', 'pot']) await s.add(sku);
}

describeRedis('unpinned up: the running system', () => {
  it('survives a crash of the server that served you: same session, same cart', async () => {
    const sys = await startSystem();
    const ann = new Shopper(sys.url, 'ann');
    await fillCart(ann);
    expect(ann.items).toBe(4);
    const victim = ann.lastServer;
    await sys.kill(victim);
    const servedBy = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const answer = await ann.look();
      expect(answer).not.toBeNull();
      servedBy.add(answer!.server);
      expect(answer!.cart).toEqual({ tea: 2, mug: 1, pot: 1 });
    }
    expect(servedBy.has(victim)).toBe(false);
    expect(ann).toMatchObject({ sessionsLost: 0, itemsLost: 0, failed: 0 });
    expect(sys.status().servers.find((s) => s.name === victim)!.state).toBe('down');
  });

  it('with --sticky, the same crash loses the session (the baseline’s defining flaw)', async () => {
    const sys = await startSystem({ sticky: true });
    const ann = new Shopper(sys.url, 'ann');
    await fillCart(ann);
    const pinned = ann.lastServer;
    // Pinned: every answer came from one server.
    for (let i = 0; i < 3; i++) expect((await ann.look())!.server).toBe(pinned);
    await sys.kill(pinned);
    const after = await ann.look();
    expect(after!.server).not.toBe(pinned);
    expect(after!.user).toBeNull();
    expect(after!.cart).toEqual({});
    expect(ann.sessionsLost).toBe(1);
    expect(ann.itemsLost).toBe(4);
  });

  it('rolls a deploy through all 3 servers under 20 shoppers: no failed request, no lost item', async () => {
    const sys = await startSystem();
    const before = new Set(sys.status().servers.map((s) => s.pid));
    const shoppers = Array.from({ length: 20 }, (_, i) => new Shopper(sys.url, `shopper-${i}`));
    await Promise.all(shoppers.map((s) => s.login()));
    const deploy = sys.deploy();
    await shop(shoppers, deploy);
    const status = await deploy;
    expect(status.servers).toHaveLength(3);
    for (const s of status.servers) {
      expect(s.state).toBe('up');
      expect(before.has(s.pid)).toBe(false);
    }
    const total = (k: 'failed' | 'itemsLost' | 'sessionsLost' | 'requests') =>
      shoppers.reduce((n, s) => n + s[k], 0);
    expect(total('requests')).toBeGreaterThan(100);
    // Failures by cause (status and error code): empty when nothing failed.
    expect(shoppers.map((s) => s.failures).filter((f) => Object.keys(f).length > 0)).toEqual([]);
    expect({
      failed: total('failed'),
      itemsLost: total('itemsLost'),
      sessionsLost: total('sessionsLost'),
    }).toEqual({
      failed: 0,
      itemsLost: 0,
      sessionsLost: 0,
    });
    expect(shoppers.every((s) => s.loggedIn && s.items > 0)).toBe(true);
  });

  it('scales to 5 then to 2 under 20 shoppers: no failed request, no lost item', async () => {
    const sys = await startSystem();
    const shoppers = Array.from({ length: 20 }, (_, i) => new Shopper(sys.url, `scaler-${i}`));
    await Promise.all(shoppers.map((s) => s.login()));
    const steps = (async () => {
      expect((await sys.scale(5)).servers).toHaveLength(5);
      expect((await sys.scale(2)).servers).toHaveLength(2);
    })();
    await shop(shoppers, steps);
    await steps;
    // Failures by cause (status and error code): empty when nothing failed.
    expect(shoppers.map((s) => s.failures).filter((f) => Object.keys(f).length > 0)).toEqual([]);
    const failed = shoppers.reduce((n, s) => n + s.failed, 0);
    const lost = shoppers.reduce((n, s) => n + s.itemsLost + s.sessionsLost, 0);
    expect({ failed, lost }).toEqual({ failed: 0, lost: 0 });
    expect(sys.status().servers.map((s) => s.state)).toEqual(['up', 'up']);
  });

  it('keeps sessions across a restart of the store', async () => {
    const sys = await startSystem();
    const ann = new Shopper(sys.url, 'ann');
    await fillCart(ann);
    await sys.restartStore();
    // The apps reconnect on their own; until then a request gets a 503, never an empty session.
    const answer = await waitFor(() => ann.look(), { what: 'the apps to reconnect' });
    expect(answer).toMatchObject({ user: 'ann', cart: { tea: 2, mug: 1, pot: 1 } });
    expect(ann).toMatchObject({ sessionsLost: 0, itemsLost: 0 });
  });

  it('leaves no process, port or temp directory behind when stopped', async () => {
    const sys = await startSystem();
    const status = sys.status();
    const pids = status.servers.map((s) => s.pid!);
    const urls = [status.balancer.url, ...status.servers.map((s) => s.url)];
    await sys.stop();
    system = null;
    expect(pids.filter(running)).toEqual([]);
    for (const url of urls) await expect(fetch(url)).rejects.toThrow();
    await expect(fetch(status.store.url!.replace('redis:', 'http:'))).rejects.toThrow();
  });
});

describe('unpinned up: options', () => {
  it('refuses a server count that makes no sense', () => {
    expect(() => new System({ servers: 0 })).toThrow(/servers must be/);
  });
});
