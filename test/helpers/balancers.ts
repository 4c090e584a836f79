/**
 * Real HAProxy and nginx for tests: foreground children with their config, pid,
 * temp and socket files in a private temp directory, on free loopback ports,
 * stopped at the end. Never the system's configs, never port 80. A missing
 * binary skips its suite loudly, except under CI=true, where it fails the run.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe } from 'vitest';
import { findBinary } from '../../src/system/binaries.js';

const run = promisify(execFile);
export const haproxyBinary = findBinary('haproxy');
export const nginxBinary = findBinary('nginx');

/** `describe` that runs only where `binary` exists; a hard failure under CI=true. */
export function describeWith(binary: string, name: string, fn: () => void): void {
  if (findBinary(binary)) {
    describe(name, fn);
    return;
  }
  if (process.env.CI === 'true') {
    throw new Error(`${binary} is not installed but CI=true: "${name}" must run. Install ${binary}.`);
  }
  console.warn(
    `\n!!! SKIPPING "${name}": ${binary} is not installed. Install it (apt-get install -y ${binary}) to run these tests. !!!\n`,
  );
  describe.skip(name, fn);
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'unpinned-lb-'));
}

/** `haproxy -c`: resolves with its output when valid, rejects with it when not. */
export async function checkHaproxy(config: string): Promise<string> {
  const dir = tempDir();
  try {
    writeFileSync(join(dir, 'haproxy.cfg'), config);
    const { stdout, stderr } = await run(haproxyBinary!, ['-c', '-f', join(dir, 'haproxy.cfg')]);
    return stdout + stderr;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `nginx -t` with a private prefix and error log. */
export async function checkNginx(config: string, dir: string): Promise<string> {
  writeFileSync(join(dir, 'nginx.conf'), config);
  const { stdout, stderr } = await run(nginxBinary!, nginxArgs(dir, ['-t']));
  return stdout + stderr;
}

function nginxArgs(dir: string, extra: string[]): string[] {
  return ['-p', dir, '-e', join(dir, 'error.log'), '-c', join(dir, 'nginx.conf'), ...extra];
}

export interface RunningBalancer {
  child: ChildProcess;
  /** Its private directory (config, pid, temp files, admin socket). */
  dir: string;
  output: () => string;
  stop(): Promise<void>;
}

function supervise(child: ChildProcess, dir: string): RunningBalancer {
  let output = '';
  child.stdout?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    dir,
    output: () => output,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        // Both treat SIGTERM/SIGQUIT as "stop now"; SIGKILL only if they ignore it.
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Run HAProxy in the foreground (-db) with this config, written into `dir`. */
export function startHaproxy(config: string, dir: string): RunningBalancer {
  writeFileSync(join(dir, 'haproxy.cfg'), config);
  const child = spawn(haproxyBinary!, ['-db', '-f', join(dir, 'haproxy.cfg')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return supervise(child, dir);
}

/** Run nginx in the foreground (daemon off) with this config, prefix `dir`. */
export function startNginx(config: string, dir: string): RunningBalancer {
  writeFileSync(join(dir, 'nginx.conf'), config);
  const child = spawn(nginxBinary!, nginxArgs(dir, ['-g', 'daemon off;']), {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return supervise(child, dir);
}
