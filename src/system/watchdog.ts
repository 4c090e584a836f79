/**
 * Nothing a running system started may outlive it, even when the supervisor
 * itself is killed with SIGKILL and runs no code at all. Its children cannot
 * all notice that on their own: redis-server has no parent-death option, and a
 * user's `--app` command is not ours to change. So the supervisor starts one
 * small watchdog process (watchdog-process.ts) and tells it, over a pipe, each
 * process group and scratch path it creates. When the pipe ends, which the
 * kernel does however the supervisor exits, the watchdog ends those groups and
 * removes those paths.
 *
 * The watchdog runs in its own session, so the signals meant for the
 * supervisor (Ctrl-C, a terminal hang-up, `kill -9 -<pgid>` of its group) do
 * not reach it. What remains unguarded: the watchdog and the supervisor both
 * SIGKILLed at once, one by one (nobody is left to notice).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from './paths.js';
import { procStats } from './proc.js';

export class Watchdog {
  #child: ChildProcess;
  #groups = new Set<number>();
  #paths = new Set<string>();

  private constructor(child: ChildProcess) {
    this.#child = child;
    // The watchdog must never keep the supervisor alive: it waits for the supervisor, not the reverse.
    child.unref();
    (child.stdin as unknown as { unref?: () => void }).unref?.();
    // Writes to a watchdog that died are lost, not fatal: the supervisor still stops its children itself.
    child.stdin!.on('error', () => {});
  }

  /** Start the watchdog (from the built package, like the demo shop). */
  static start(): Watchdog {
    const program = join(packageRoot(), 'dist', 'src', 'system', 'watchdog-process.js');
    const child = spawn(process.execPath, [program], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
    return new Watchdog(child);
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /**
   * Watch a child that leads its own process group (spawned with `detached: true`): the watchdog
   * ends its group if the supervisor dies first (wave 0 first, then 1: the store after the app
   * servers); it forgets it when the child exits.
   */
  adopt(child: ChildProcess, wave: 0 | 1 = 0): void {
    const pid = child.pid;
    if (pid === undefined) return;
    this.#groups.add(pid);
    this.#send(`+group ${pid} ${wave}`);
    child.once('exit', () => {
      this.#groups.delete(pid);
      this.#send(`-group ${pid}`);
    });
  }

  /** Remove `path` if the supervisor dies before it does; `release` when it removed it itself. */
  keep(path: string): void {
    this.#paths.add(path);
    this.#send(`+path ${path}`);
  }

  release(path: string): void {
    this.#paths.delete(path);
    this.#send(`-path ${path}`);
  }

  /** The fast stop: SIGKILL every group still running, remove every path, and end the watchdog. */
  killAll(): number {
    const groups = [...this.#groups];
    for (const pgid of groups) killGroup(pgid, 'SIGKILL');
    for (const path of this.#paths) rmSync(path, { recursive: true, force: true });
    void this.close();
    return groups.length;
  }

  /**
   * Ends the pipe: the watchdog reaps whatever is still listed (nothing, after a clean stop), then
   * exits. Resolves when it has, so "nothing left running" is true when the supervisor says it.
   */
  close(): Promise<void> {
    const child = this.#child;
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.ref();
    child.stdin?.end();
    return exited;
  }

  #send(line: string): void {
    const stdin = this.#child.stdin;
    if (stdin?.writable) stdin.write(`${line}\n`);
  }
}

/** Signal the process group `pgid` (a child spawned with `detached: true` leads its own). */
export function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the whole group has exited already.
  }
}

/**
 * Whether a process of group `pgid` still runs. A zombie does not count: once its parent (a shell
 * that was killed) is gone, it waits for an init that may never collect it (a container's PID 1),
 * and it holds nothing. Without /proc, any member counts, zombies included.
 */
export function groupRunning(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch {
    return false; // ESRCH: no member at all, the usual case, without reading /proc
  }
  const stats = procStats();
  if (!stats) return true;
  return stats.some((p) => p.pgrp === pgid && p.state !== 'Z' && p.state !== 'X');
}
