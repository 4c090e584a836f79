/**
 * `--log-format json` on the real CLI (the built dist, as users run it): `unpinned up` and
 * `unpinned lab` write nothing but pino-shaped JSON lines, and the events an operator looks for
 * are each one line with structured fields: a rolling deploy's steps, a crashed server, the store
 * going down, the stop; the lab's runs, faults and claims.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, expect, it } from 'vitest';
import { controlFile } from '../../src/cli/system.js';
import type { SystemStatus } from '../../src/system/supervisor.js';
import { tagged } from '../helpers/processes.js';
import { describeRedis, freePort } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/wait.js';

const root = join(import.meta.dirname, '..', '..');
const cli = join(root, 'dist', 'src', 'cli', 'index.js');

interface Line {
  level: number;
  time: number;
  pid: number;
  hostname: string;
  msg: string;
  [field: string]: unknown;
}

/** Every line of `text` as JSON with pino's fields; throws on the first line that is not. */
function parseLines(text: string): Line[] {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const line = JSON.parse(l) as Line;
      expect(line, l).toMatchObject({ hostname: hostname() });
      expect([30, 40, 50], l).toContain(line.level);
      expect(typeof line.time, l).toBe('number');
      expect(typeof line.pid, l).toBe('number');
      expect(typeof line.msg, l).toBe('string');
      return line;
    });
}

const started: { tag: string; port: number }[] = [];
afterEach(() => {
  for (const { tag, port } of started.splice(0)) {
    for (const pid of tagged(tag)) process.kill(pid, 'SIGKILL');
    rmSync(controlFile(port), { force: true });
  }
});

function launch(args: string[]): { child: ChildProcess; stdout: () => string; stderr: () => string } {
  const tag = randomUUID();
  const child = spawn(process.execPath, [cli, ...args], {
    cwd: root,
    env: { ...process.env, UNPINNED_TEST_TAG: tag },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const port = Number(args[args.indexOf('--port') + 1]);
  if (port) started.push({ tag, port });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => {
    stdout += c;
  });
  child.stderr!.on('data', (c: Buffer) => {
    stderr += c;
  });
  return { child, stdout: () => stdout, stderr: () => stderr };
}

describeRedis('--log-format json', () => {
  it('unpinned up: deploy steps, a crash, the store down and the stop, each one JSON line', async () => {
    const port = await freePort();
    const up = launch(['up', '--port', String(port), '--servers', '2', '--log-format', 'json']);
    const find = (msg: string | RegExp) => () =>
      parseLines(up.stdout()).find((l) => (typeof msg === 'string' ? l.msg === msg : msg.test(l.msg)));
    const ready = await waitFor(find(/^unpinned is up/), { timeoutMs: 30_000, what: 'up to start' });
    expect(ready).toMatchObject({ level: 30, mode: 'stateless', store: { kind: 'redis', up: true } });
    expect(ready.servers).toHaveLength(2);
    const control = ready.control as string;

    const deploy = await fetch(`${control}/deploy`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(deploy.status).toBe(200);
    const done = await waitFor(find('deploy: done'), { what: 'the deploy to finish' });
    expect(done).toMatchObject({ level: 30, step: 'done', servers: 2 });
    const lines = parseLines(up.stdout());
    expect(lines.find((l) => l.msg === 'deploy: started')).toMatchObject({ step: 'started', servers: 2 });
    expect(lines.find((l) => l.msg === 'deploy: app-1 replaced by app-3')).toMatchObject({
      step: 'replaced',
      server: 'app-1',
      by: 'app-3',
    });
    // The balancer's own line for the drain, in the same stream.
    expect(lines.find((l) => l.msg === 'server app-1 draining')).toMatchObject({ server: 'app-1' });
    expect(lines.find((l) => l.msg === 'app-3 up')).toMatchObject({
      server: 'app-3',
      url: expect.any(String),
    });

    const status = (await (await fetch(`${control}/status`)).json()) as SystemStatus;
    const victim = status.servers.find((s) => s.name === 'app-4')!;
    process.kill(victim.pid!, 'SIGKILL');
    const crash = await waitFor(find('app-4 crashed'), { what: 'the crash line' });
    expect(crash).toMatchObject({ level: 50, server: 'app-4', signal: 'SIGKILL', code: null });

    process.kill(status.store.pid!, 'SIGKILL');
    const storeDown = await waitFor(find('store down'), { what: 'the store-down line' });
    expect(storeDown).toMatchObject({ level: 50, store: 'redis', signal: 'SIGKILL' });

    up.child.kill('SIGTERM');
    await waitFor(find('stopped: nothing left running'), { timeoutMs: 30_000, what: 'the stop' });
    await waitFor(() => up.child.exitCode !== null, { what: 'up to exit' });
    expect(up.child.exitCode).toBe(0);
    const all = parseLines(up.stdout());
    expect(all.find((l) => l.msg === 'stopping')).toMatchObject({ reason: 'SIGTERM' });
    // Every line of both streams is JSON (stderr holds none at all here).
    expect(parseLines(up.stderr())).toEqual([]);
    expect(all.length).toBeGreaterThan(10);
  }, 120_000);

  it('unpinned up: a start that fails is a JSON line with its code, and exit 1', async () => {
    const taken = createServer().listen(0, '127.0.0.1');
    await once(taken, 'listening');
    try {
      const port = (taken.address() as AddressInfo).port;
      const up = launch(['up', '--port', String(port), '--servers', '1', '--log-format', 'json']);
      await waitFor(() => up.child.exitCode !== null, { timeoutMs: 30_000, what: 'up to fail' });
      expect(up.child.exitCode).toBe(1);
      expect(parseLines(up.stderr())).toEqual([]);
      expect(parseLines(up.stdout()).at(-1)).toMatchObject({ level: 50, code: 'UNPINNED_ERR_PORT_IN_USE' });
    } finally {
      taken.close();
    }
  });

  it('unpinned lab: runs, faults, supervisor events and claims, each one JSON line', async () => {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      [cli, 'lab', '--scenario', 'server-crash', '--duration', '2', '--users', '9', '--log-format', 'json'],
      { cwd: root, timeout: 120_000 },
    );
    const lines = parseLines(stdout);
    expect(parseLines(stderr)).toEqual([]);
    const msgs = lines.map((l) => l.msg);
    expect(msgs[0]).toBe('lab: started');
    expect(msgs.at(-1)).toBe('lab: done');
    for (const architecture of ['sticky', 'stateless']) {
      const tagged = (msg: string) => lines.find((l) => l.msg === msg && l.architecture === architecture);
      expect(tagged(`server-crash ${architecture}: running`)).toMatchObject({
        run: expect.any(Number),
        runs: 2,
      });
      expect(tagged(`server-crash ${architecture}: done`)).toMatchObject({
        scenario: 'server-crash',
        requests: expect.any(Number),
        sessionsLost: expect.any(Number),
        fault: 'kill app-1 (SIGKILL)',
      });
      expect(tagged('fault: kill app-1 (SIGKILL)')).toMatchObject({
        scenario: 'server-crash',
        atMs: expect.any(Number),
      });
      // The run's supervisor, tagged with its scenario and architecture.
      expect(tagged('app-1 killed')).toMatchObject({ level: 40, server: 'app-1', scenario: 'server-crash' });
    }
    expect(lines.find((l) => l.msg === 'server-crash sticky: done')!.level).toBe(40); // sessions lost
    expect(lines.filter((l) => l.msg.startsWith('claim '))).toHaveLength(2);
  }, 150_000);
});
