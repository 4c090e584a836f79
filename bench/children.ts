/**
 * The processes a benchmark starts (app servers, proxies), in one list so that each can be
 * measured by pid and all are stopped when the benchmark exits.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';

export const children: ChildProcess[] = [];

/**
 * Starts `cmd` (with `env` added to this process's environment) and resolves with the port it
 * prints ("port N" or "listening on http://h:N").
 */
export async function startProcess(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<number> {
  const child = spawn(cmd, args, {
    stdio: ['ignore', 'pipe', 'inherit'],
    ...(env ? { env: { ...process.env, ...env } } : {}),
  });
  children.push(child);
  let out = '';
  child.stdout!.setEncoding('utf8');
  for await (const chunk of child.stdout!) {
    out += chunk;
    const m = /port (\d+)|listening on http:\/\/[^:]+:(\d+)/.exec(out);
    if (m) {
      child.stdout!.resume();
      return Number(m[1] ?? m[2]);
    }
  }
  throw new Error(`${cmd} ${args.join(' ')} exited before printing its port:\n${out}`);
}

export function lastPid(): number {
  return children.at(-1)!.pid!;
}

/** A loopback port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export function stopChildren(): void {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
}

/** Runs a benchmark's `main`, stopping every child (and removing `tmp`) however it ends. */
export function runBenchmark(main: () => Promise<void>, tmp?: string): void {
  process.on('exit', () => {
    stopChildren();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });
  process.on('SIGINT', () => process.exit(130));
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
