/**
 * `unpinned up` leaves nothing running, however it ends: SIGTERM to `npm start` (what `timeout`,
 * Docker or a process manager send), SIGINT, SIGHUP, its parent's death, a SIGKILL of `up`
 * itself, a second signal during the stop, a server or the store dying while it stops, and a
 * start on a taken port. Each test records every process of the system from /proc, causes the
 * ending, and waits until every one of them is gone. Children carry a tag in their environment,
 * so a process handed to init after its parent died is still found.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readlinkSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, expect, it } from 'vitest';
import { controlFile } from '../../src/cli/system.js';
import type { SystemStatus } from '../../src/system/supervisor.js';
import { commandLine, parentPid, processTree, running, tagged, waitGone } from '../helpers/processes.js';
import { describeRedis, freePort } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/wait.js';

const root = join(import.meta.dirname, '..', '..');
const cli = join(root, 'dist', 'src', 'cli', 'index.js');
const slowApp = `${process.execPath} ${join(root, 'test', 'fixtures', 'slow-stop-server.mjs')}`;
const run = promisify(execFile);

interface Running {
  child: ChildProcess;
  port: number;
  tag: string;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Every process of the system once it was up (the launcher, `up`, the watchdog, the store, the servers). */
  pids: number[];
}

const started: Running[] = [];
afterEach(async () => {
  // A failed test must not leave its system behind for the next one.
  for (const { tag, port } of started.splice(0)) {
    for (const pid of tagged(tag)) process.kill(pid, 'SIGKILL');
    rmSync(controlFile(port), { force: true });
  }
});

/** Runs `command args` (which starts `unpinned up`) and resolves once the system is up. */
async function launch(command: string, args: string[], port: number, servers: number): Promise<Running> {
  const tag = randomUUID();
  const child = spawn(command, args, {
    cwd: root,
    env: { ...process.env, UNPINNED_TEST_TAG: tag },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk;
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const entry: Running = { child, port, tag, output: () => output, exited, pids: [] };
  started.push(entry);
  await waitFor(() => output.includes('Ctrl-C stops everything') || child.exitCode !== null, {
    timeoutMs: 30_000,
    what: 'unpinned up to start',
  });
  expect(output).toContain('Ctrl-C stops everything');
  entry.pids = [...new Set([...processTree(child.pid!), ...tagged(tag)])];
  // What the system consists of, so "all gone" means something.
  const kinds = entry.pids.map(commandLine);
  expect(kinds.filter((c) => c.includes('redis-server'))).toHaveLength(1);
  expect(kinds.filter((c) => c.includes('watchdog-process.js'))).toHaveLength(1);
  const apps = kinds.filter(
    (c) => !c.includes('cli/index.js') && /shop\/server\.js|slow-stop-server/.test(c),
  );
  expect(apps).toHaveLength(servers);
  return entry;
}

function up(port: number, extra: string[] = [], servers = 2): Promise<Running> {
  return launch(
    process.execPath,
    [cli, 'up', '--port', String(port), '--servers', String(servers), ...extra],
    port,
    servers,
  );
}

async function status(port: number): Promise<SystemStatus> {
  return JSON.parse((await run(process.execPath, [cli, 'status', '--port', String(port), '--json'])).stdout);
}

/** All gone: every recorded process, and every process that carries the tag. */
async function expectAllGone(system: Running): Promise<void> {
  await waitGone(system.pids, 'every process of the system');
  expect(tagged(system.tag)).toEqual([]);
}

/** Resolves once the app at `url` answers its health check with 503: it got SIGTERM and is stopping. */
function stopping(url: string): Promise<boolean> {
  return waitFor(async () => (await fetch(`${url}/healthz`)).status === 503, {
    timeoutMs: 20_000,
    what: `${url} to receive SIGTERM`,
  });
}

const noStackTrace = /\n\s+at /;

describeRedis('unpinned up leaves nothing running', () => {
  it('SIGTERM to `npm start` stops every process (no shell between npm and node swallows it)', async () => {
    const port = await freePort();
    // --ignore-scripts runs the start script alone: the prestart build would rewrite dist/ under
    // the test files running in parallel.
    const system = await launch(
      'npm',
      ['start', '--ignore-scripts', '--', '--port', String(port), '--servers', '2'],
      port,
      2,
    );
    // node is npm's own child: no shell in between.
    const upPid = system.pids.find((pid) => /^\S*node \S*cli\/index\.js up/.test(commandLine(pid)))!;
    expect(parentPid(upPid)).toBe(system.child.pid);
    system.child.kill('SIGTERM');
    await expectAllGone(system);
    expect(system.output()).toContain('stopped: nothing left running.');
  });

  for (const signal of ['SIGINT', 'SIGHUP'] as const) {
    it(`${signal} to up stops every process and exits 0`, async () => {
      const port = await freePort();
      const system = await up(port);
      system.child.kill(signal);
      expect(await system.exited).toEqual({ code: 0, signal: null });
      await expectAllGone(system);
      expect(existsSync(controlFile(port))).toBe(false);
    });
  }

  it('closing its terminal stops every process (SIGHUP from the kernel, and the parent gone)', async () => {
    const port = await freePort();
    // script(1) runs `up` on a pseudo-terminal of its own; killing script closes that terminal.
    const command = `exec ${process.execPath} ${cli} up --port ${port} --servers 2`;
    const system = await launch('script', ['-qfec', command, '/dev/null'], port, 2);
    system.child.kill('SIGKILL');
    await expectAllGone(system);
    await waitFor(() => !existsSync(controlFile(port)), { what: 'the control file to be removed' });
  });

  it('stops every process when its parent dies (SIGKILL of the process that started it)', async () => {
    const port = await freePort();
    // The parent passes its stdio on, so the test still reads what `up` prints.
    const parent = `require('node:child_process').spawn(process.execPath, ${JSON.stringify([cli, 'up', '--port', String(port), '--servers', '2'])}, { stdio: 'inherit' }); setInterval(() => {}, 1000);`;
    const system = await launch(process.execPath, ['-e', parent], port, 2);
    system.child.kill('SIGKILL');
    await expectAllGone(system);
    expect(system.output()).toMatch(/stopping \(parent process \d+ exited\)/);
  });

  it('SIGKILL of up itself: the watchdog ends every process and removes its files', async () => {
    const port = await freePort();
    const system = await up(port);
    const { dir, store } = await status(port);
    const redisDir = readlinkSync(`/proc/${store.pid}/cwd`);
    system.child.kill('SIGKILL');
    await expectAllGone(system);
    await waitFor(() => !existsSync(dir!) && !existsSync(redisDir) && !existsSync(controlFile(port)), {
      what: 'the watchdog to remove the scratch directories and the control file',
    });
  });

  it('a second signal during the stop kills everything at once', async () => {
    const port = await freePort();
    const system = await up(port, ['--app', slowApp]);
    const { servers } = await status(port);
    system.child.kill('SIGTERM');
    await Promise.all(servers.map((s) => stopping(s.url)));
    // The apps never stop on their own. A repeat within half a second is npm's echo of the same
    // Ctrl-C and is ignored, so signal until `up` takes it as the second one.
    await waitFor(
      () => {
        system.child.kill('SIGTERM');
        return system.output().includes('SIGTERM again');
      },
      { intervalMs: 100, what: 'up to force the stop' },
    );
    expect(await system.exited).toEqual({ code: 143, signal: null });
    await expectAllGone(system);
    expect(system.output()).toMatch(/SIGTERM again: killed \d+ process group\(s\) with SIGKILL/);
  });

  it('an app server that dies during the stop: one clear line, then a clean exit', async () => {
    const port = await freePort();
    const system = await up(port, ['--app', slowApp]);
    const [first, second] = (await status(port)).servers;
    system.child.kill('SIGTERM');
    await Promise.all([stopping(first!.url), stopping(second!.url)]);
    process.kill(first!.pid!, 'SIGKILL');
    await fetch(`${second!.url}/exit`).then((res) => res.text());
    expect(await system.exited).toEqual({ code: 0, signal: null });
    await expectAllGone(system);
    expect(system.output()).toContain(`${first!.name} ended while stopping (signal SIGKILL).`);
    expect(system.output()).toContain('stopped: nothing left running.');
    expect(system.output()).not.toMatch(noStackTrace);
  });

  it('the store dying during the stop: one clear line, then a clean exit', async () => {
    const port = await freePort();
    const system = await up(port, ['--app', slowApp]);
    const { servers, store } = await status(port);
    system.child.kill('SIGTERM');
    await Promise.all(servers.map((s) => stopping(s.url)));
    process.kill(store.pid!, 'SIGKILL');
    await waitFor(() => !running(store.pid!), { what: 'redis-server to die' });
    for (const s of servers) await fetch(`${s.url}/exit`).then((res) => res.text());
    expect(await system.exited).toEqual({ code: 0, signal: null });
    await expectAllGone(system);
    expect(system.output()).toContain('store: redis-server had already ended (signal SIGKILL).');
    expect(system.output()).not.toMatch(noStackTrace);
  });

  for (const flag of ['--port', '--control-port'] as const) {
    it(`a second up on a taken ${flag}: UNPINNED_ERR_PORT_IN_USE, exit 1, nothing left running`, async () => {
      const taken = await holdPort();
      const port = flag === '--port' ? taken.port : await freePort();
      const tag = randomUUID();
      const args = [cli, 'up', '--port', String(port), '--servers', '2'];
      if (flag === '--control-port') args.push('--control-port', String(taken.port));
      const result = await run(process.execPath, args, {
        env: { ...process.env, UNPINNED_TEST_TAG: tag },
        timeout: 30_000,
      }).catch((error: { code: number; stderr: string }) => error);
      taken.server.close();
      expect(result).toMatchObject({ code: 1 });
      const { stderr } = result as { stderr: string };
      expect(stderr).toMatch(
        new RegExp(`Port ${taken.port} \\(the (balancer|control API)\\) is already in use.*${flag} `),
      );
      expect(stderr).toContain('(UNPINNED_ERR_PORT_IN_USE)');
      expect(stderr).not.toMatch(noStackTrace);
      expect(tagged(tag)).toEqual([]);
      expect(existsSync(controlFile(port))).toBe(false);
    });
  }
});

async function holdPort(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return { server, port: typeof address === 'object' && address ? address.port : 0 };
}
