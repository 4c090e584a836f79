/**
 * A replica's process: the user's `--app` command line as they would type it in a shell (an
 * assignment in front, `&&` between commands), run as real child processes. What a restart and a
 * stop must leave: the old app stopped by SIGTERM (it drained), nothing of its process group still
 * running, and the pid the app prints known as the replica's own.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Machine } from '../../src/check/machine.js';
import { Watchdog } from '../../src/system/watchdog.js';
import { commandLine, running, tagged } from '../helpers/processes.js';

const scratch = mkdtempSync(join(tmpdir(), 'check-machine-test-'));
const watchdog = Watchdog.start();
afterAll(async () => {
  await watchdog.close();
  rmSync(scratch, { recursive: true, force: true });
});

// Drains for a while on SIGTERM, as an app closing its connections does: a stop that returned when
// a shell in front of it exited would leave it running.
const app = `
import { createServer } from 'node:http';
import { writeFileSync } from 'node:fs';
const server = createServer((_req, res) => res.end(JSON.stringify({ pid: process.pid, store: process.env.STORE ?? null })));
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => {
  server.close();
  setTimeout(() => {
    writeFileSync('stopped-' + process.pid, 'SIGTERM');
    process.exit(0);
  }, 1500);
});
`;

const answer = async (m: Machine) =>
  (await (await fetch(`http://127.0.0.1:${m.port}/`)).json()) as { pid: number; store: string | null };

describe.concurrent('a replica of a shell command line', () => {
  it.each([
    ['an assignment in front', 'STORE=memory node server.mjs', 'memory'],
    ['two commands with &&', 'echo built > built.txt && STORE=built node server.mjs', 'built'],
  ])('%s: runs as a shell would, restarts and stops with nothing left behind', async (_, command, store) => {
    const cwd = mkdtempSync(join(scratch, 'app-'));
    writeFileSync(join(cwd, 'server.mjs'), app);
    const tag = `machine-${Math.random().toString(36).slice(2)}`;
    const root = mkdtempSync(join(scratch, 'root-'));
    const m = Machine.create(
      {
        command,
        cwd,
        env: { UNPINNED_TEST_TAG: tag },
        readyPath: null,
        startTimeoutMs: 30_000,
        root,
        watchdog,
      },
      'replica-1',
      'replica-1',
    );
    try {
      await m.start();
      const first = await answer(m);
      expect(first.store).toBe(store);
      if (command.includes('&&')) expect(existsSync(join(m.appDir, 'built.txt'))).toBe(true);
      // The replica's pid is the app's (what it prints), not the shell's in front of it.
      expect(m.identity().pid).toBe(first.pid);
      expect(commandLine(first.pid)).toContain('server.mjs');

      await m.restart();
      // The old app got SIGTERM itself and had ended before the new one started.
      expect(readFileSync(join(m.appDir, `stopped-${first.pid}`), 'utf8')).toBe('SIGTERM');
      expect(running(first.pid)).toBe(false);
      // Collected by the shell that started it, not orphaned to an init that may never collect it
      // (a container's PID 1): the shell outlived it.
      expect(existsSync(`/proc/${first.pid}`)).toBe(false);
      const second = await answer(m);
      expect(second.pid).not.toBe(first.pid);
      // One app left (the new one), beside the shell that runs it.
      const apps = tagged(tag).filter((pid) => !commandLine(pid).startsWith('/bin/sh'));
      expect(apps).toEqual([second.pid]);
    } finally {
      await m.dispose();
    }
    expect(tagged(tag)).toEqual([]);
  });
});
