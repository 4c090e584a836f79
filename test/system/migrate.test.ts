/**
 * `unpinned migrate` on a running `up --sticky` system, with shoppers logged in and shopping the
 * whole time: real shop processes on in-memory sessions, then stateless ones on a real
 * redis-server, the balancer's legacy affinity in between. Counted by the lab's virtual users.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, expect, it } from 'vitest';
import { System, type SystemStatus } from '../../src/system/supervisor.js';
import { running } from '../helpers/processes.js';
import { describeRedis, freePort } from '../helpers/redis-server.js';
import { Shopper, shop } from '../helpers/shopper.js';
import { waitFor } from '../helpers/wait.js';

const cli = join(import.meta.dirname, '..', '..', 'dist', 'src', 'cli', 'index.js');
const run = promisify(execFile);
let system: System | null = null;
let child: ChildProcess | null = null;
afterEach(async () => {
  await system?.stop();
  system = null;
  child?.kill('SIGINT');
  child = null;
});

describeRedis('unpinned migrate', () => {
  it('moves a sticky system to stateless under load: nobody logged out, nothing lost, old servers gone', async () => {
    const sys = new System({ servers: 2, port: 0, sticky: true });
    system = sys;
    await sys.start();
    const old = sys.status().servers.map((s) => ({ name: s.name, pid: s.pid! }));
    expect(sys.status().servers.every((s) => s.sessions === 'memory')).toBe(true);
    const shoppers = Array.from({ length: 12 }, (_, i) => new Shopper(sys.url, `shopper-${i}`));
    for (const s of shoppers) {
      await s.login();
      for (const sku of ['tea', 'mug']) await s.add(sku);
    }
    expect(new Set(shoppers.map((s) => s.lastServer))).toEqual(new Set(old.map((o) => o.name)));

    const started = await sys.migrate({ capMs: 120_000, idleMs: 1_500 });
    expect(started.migration?.state).toBe('migrating');
    expect(started.servers.filter((s) => s.state === 'retiring').map((s) => s.name)).toEqual(
      old.map((o) => o.name),
    );
    const fresh = new Set(started.servers.filter((s) => s.sessions === 'shared').map((s) => s.name));
    expect(fresh.size).toBe(2);
    await expect(sys.migrate()).rejects.toMatchObject({ code: 'UNPINNED_ERR_MIGRATING' });
    await expect(sys.deploy()).rejects.toMatchObject({ code: 'UNPINNED_ERR_MIGRATING' });

    // Everyone keeps shopping on the old server that holds their session...
    await shop(shoppers, Promise.resolve(), { maxRequests: 6 });
    for (const s of shoppers) expect(old.map((o) => o.name)).toContain(s.lastServer);
    // ... newcomers log in on the stateless servers only ...
    const newcomers = Array.from({ length: 8 }, (_, i) => new Shopper(sys.url, `newcomer-${i}`));
    for (const n of newcomers) {
      await n.login();
      expect(fresh).toContain(n.lastServer);
    }
    // ... and whoever logs out on an old server no longer holds it: the next login is stateless.
    for (const s of shoppers) {
      await s.logout();
      await s.login();
      expect(fresh).toContain(s.lastServer);
      await s.add('pot');
    }
    // Keep shopping until the old servers are retired (their sessions all ended).
    await shop([...shoppers, ...newcomers], sys.migrated, { maxRequests: 400, deadlineMs: 30_000 });
    await sys.migrated;

    const end = sys.status();
    expect(end.sticky).toBe(false);
    expect(end.migration).toMatchObject({ state: 'done', forcedOut: 0 });
    expect(end.migration!.servers.every((s) => s.state === 'retired' && s.reason === 'sessions-ended')).toBe(
      true,
    );
    expect(end.servers.map((s) => s.name).sort()).toEqual([...fresh].sort());
    expect(end.servers.every((s) => s.sessions === 'shared')).toBe(true);
    await waitFor(() => old.every((o) => !running(o.pid)), { what: 'old server processes stopped' });
    for (const u of [...shoppers, ...newcomers]) {
      expect(u).toMatchObject({ sessionsLost: 0, itemsLost: 0, failed: 0 });
      expect(fresh).toContain(u.lastServer);
    }
  });

  it('refuses to migrate a system that is already stateless', async () => {
    const sys = new System({ servers: 1, port: 0 });
    system = sys;
    await sys.start();
    await expect(sys.migrate()).rejects.toMatchObject({ code: 'UNPINNED_ERR_NOT_STICKY', statusCode: 409 });
  });

  it('as commands: `up --sticky`, then `migrate` follows it to stateless and exits 0', async () => {
    const port = await freePort();
    let output = '';
    child = spawn(process.execPath, [cli, 'up', '--sticky', '--port', String(port), '--servers', '2'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => {
      output += d;
    });
    await waitFor(() => output.includes('Ctrl-C stops everything'), {
      timeoutMs: 30_000,
      what: 'up --sticky',
    });
    const ann = new Shopper(`http://127.0.0.1:${port}`, 'ann');
    await ann.login();
    await ann.add('tea');
    const oldServer = ann.lastServer;
    const status = async () =>
      JSON.parse(
        (await run(process.execPath, [cli, 'status', '--port', String(port), '--json'])).stdout,
      ) as SystemStatus;
    expect((await status()).sticky).toBe(true);
    // `migrate` follows the move until the system is stateless, then exits 0.
    const migrating = run(process.execPath, [
      cli,
      'migrate',
      '--port',
      String(port),
      '--idle',
      '4',
      '--cap',
      '60',
    ]);
    const during = await waitFor(
      async () => {
        await ann.look(); // ann keeps shopping: her session stays live while we wait
        const st = await status();
        return st.migration?.state === 'migrating' ? st : undefined;
      },
      { timeoutMs: 30_000, what: 'migration started' },
    );
    expect(during.servers.find((s) => s.name === oldServer)?.state).toBe('retiring');
    await ann.look(); // seen after the marking: her session is bound to her old server
    expect(ann.lastServer).toBe(oldServer);
    expect((await status()).servers.find((s) => s.name === oldServer)?.legacySessions).toBe(1);
    const again = await run(process.execPath, [cli, 'migrate', '--port', String(port), '--detach']).catch(
      (e: { stderr: string; code: number }) => e,
    );
    expect(again).toMatchObject({ code: 1 });
    expect((again as { stderr: string }).stderr).toContain('UNPINNED_ERR_MIGRATING');
    await ann.logout(); // her old server holds nobody now: it retires after the idle window
    const { stdout } = await migrating;
    expect(stdout).toContain(`${oldServer} 1 session left`);
    expect(stdout).toContain('done: stateless');
    const end = await status();
    expect(end.sticky).toBe(false);
    const text = (await run(process.execPath, [cli, 'status', '--port', String(port)])).stdout;
    expect(text).toContain('unpinned is up (stateless)');
    expect(text).toContain('done: stateless');
    await ann.login();
    expect(end.servers.map((s) => s.name)).toContain(ann.lastServer);
    expect(ann).toMatchObject({ sessionsLost: 0, itemsLost: 0, failed: 0 });
  });
});
