/** Runs test/fixtures/crashing-server.mjs as a real child process and records what it received. */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from './wait-for.js';

export interface ChildServer {
  url: string;
  child: ChildProcess;
  received: string[];
  exited: Promise<number | null>;
  kill(): void;
}

export async function startCrashingServer(): Promise<ChildServer> {
  const script = fileURLToPath(new URL('../fixtures/crashing-server.mjs', import.meta.url));
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const received: string[] = [];
  let port = 0;
  let buffer = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    buffer += chunk;
    const lines = buffer.split('\n');
    buffer = lines.pop()!;
    for (const line of lines) {
      if (line.startsWith('port ')) port = Number(line.slice(5));
      if (line.startsWith('got ')) received.push(line.slice(4));
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await waitFor(() => port > 0, { message: 'crashing server to print its port' });
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    received,
    exited,
    kill: () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}
