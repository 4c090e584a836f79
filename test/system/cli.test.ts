/**
 * `unpinned up` as users run it: a real process, steered by the CLI verbs, and
 * stopped with Ctrl-C (SIGINT), after which nothing it started remains.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, expect, it } from 'vitest';
import { controlFile } from '../../src/cli/system.js';
import type { SystemStatus } from '../../src/system/supervisor.js';
import { describeRedis, freePort } from '../helpers/redis-server.js';
import { Shopper } from '../helpers/shopper.js';
import { waitFor } from '../helpers/wait.js';

const cli = join(import.meta.dirname, '..', '..', 'dist', 'src', 'cli', 'index.js');
const run = promisify(execFile);
let child: ChildProcess | null = null;
afterEach(() => {
  child?.kill('SIGKILL');
  child = null;
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Start `unpinned up` with two servers as a child process; resolves with its output once it is up. */
async function startUp(port: number, env: Record<string, string> = {}): Promise<string> {
  let output = '';
  child = spawn(process.execPath, [cli, 'up', '--port', String(port), '--servers', '2'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const collect = (d: Buffer) => {
    output += d;
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  await waitFor(() => output.includes('Ctrl-C stops everything'), {
    timeoutMs: 30_000,
    what: 'unpinned up to start',
  });
  return output;
}

describeRedis('unpinned up (the command)', () => {
  it('starts, answers the verbs, and leaves nothing behind after Ctrl-C', async () => {
    const port = await freePort();
    const output = await startUp(port);
    expect(output).toContain(`balancer  http://127.0.0.1:${port}`);
    // The dashboard is served by the control API, at the address printed.
    const dashboardUrl = /dashboard (http:\/\/127\.0\.0\.1:\d+\/)/.exec(output)?.[1];
    expect(dashboardUrl).toBeDefined();
    const page = await fetch(dashboardUrl!);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toContain('<script type="module" src="/dashboard.js">');

    const status = JSON.parse(
      (await run(process.execPath, [cli, 'status', '--port', String(port), '--json'])).stdout,
    ) as SystemStatus;
    expect(status.servers.map((s) => s.state)).toEqual(['up', 'up']);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    const scaled = JSON.parse(
      (await run(process.execPath, [cli, 'scale', '3', '--port', String(port), '--json'])).stdout,
    ) as SystemStatus;
    expect(scaled.servers).toHaveLength(3);
    const removed = JSON.parse(
      (await run(process.execPath, [cli, 'remove', 'app-1', '--port', String(port), '--json'])).stdout,
    ) as SystemStatus;
    expect(removed.servers.map((s) => s.name)).toEqual(['app-2', 'app-3']);
    const added = JSON.parse(
      (await run(process.execPath, [cli, 'add', '--port', String(port), '--json'])).stdout,
    ) as SystemStatus;
    expect(added.servers.map((s) => s.name)).toEqual(['app-2', 'app-3', 'app-4']);
    const bad = await run(process.execPath, [cli, 'kill', 'app-99', '--port', String(port)]).catch(
      (e: { stderr: string; code: number }) => e,
    );
    expect(bad).toMatchObject({ code: 1 });
    expect((bad as { stderr: string }).stderr).toMatch(
      /No app server named "app-99".*UNPINNED_ERR_UNKNOWN_SERVER/s,
    );

    const pids = [...added.servers.map((s) => s.pid!), added.store.pid!];
    const redisDir = readlinkSync(`/proc/${scaled.store.pid}/cwd`);
    const systemDir = scaled.dir!;
    expect(existsSync(redisDir) && existsSync(systemDir)).toBe(true);

    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    child!.kill('SIGINT');
    expect(await exited).toBe(0);
    child = null;
    expect(pids.filter(alive)).toEqual([]);
    expect(existsSync(redisDir)).toBe(false);
    expect(existsSync(systemDir)).toBe(false);
    expect(existsSync(controlFile(port))).toBe(false);
    await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
    for (const s of added.servers) await expect(fetch(s.url)).rejects.toThrow();
    const after = await run(process.execPath, [cli, 'status', '--port', String(port)]).catch(
      (e: { stderr: string }) => e,
    );
    expect((after as { stderr: string }).stderr).toMatch(/No system is running on port/);
  });

  it('runs the quick start on the embedded SQLite store where redis-server is not installed', async () => {
    const port = await freePort();
    // A PATH without redis-server: what a fresh machine looks like.
    const output = await startUp(port, { PATH: '/nonexistent' });
    expect(output).toContain('using the embedded SQLite store');
    expect(output).toMatch(/store {5}sqlite {2}\/.*sessions\.db/);

    const ann = new Shopper(`http://127.0.0.1:${port}`, 'ann');
    await ann.login();
    for (const sku of ['tea', 'mug', 'tea']) await ann.add(sku);
    const status = JSON.parse(
      (await run(process.execPath, [cli, 'status', '--port', String(port), '--json'])).stdout,
    ) as SystemStatus;
    const victim = ann.lastServer;
    await run(process.execPath, [cli, 'kill', victim, '--port', String(port)]);
    const after = await ann.look();
    expect(after).toMatchObject({ user: 'ann', cart: { tea: 2, mug: 1 } });
    expect(after!.server).not.toBe(victim);
    expect(ann).toMatchObject({ failed: 0, sessionsLost: 0, itemsLost: 0 });

    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    child!.kill('SIGINT');
    expect(await exited).toBe(0);
    child = null;
    expect(status.servers.map((s) => s.pid!).filter(alive)).toEqual([]);
    expect(existsSync(status.dir!)).toBe(false);
  });
});
