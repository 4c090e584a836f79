/** Line-by-line conversations with a child process over its stdio. */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';

/** Reads a child's stdout line by line; rejects if it exits first (with its stderr). */
export function lineReader(child: ChildProcessWithoutNullStreams): () => Promise<string> {
  const lines: string[] = [];
  const waiters: ((line: string) => void)[] = [];
  let stderr = '';
  let failed: Error | null = null;
  const failers: ((error: Error) => void)[] = [];
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  createInterface({ input: child.stdout }).on('line', (line) => {
    const waiter = waiters.shift();
    failers.shift();
    if (waiter) waiter(line);
    else lines.push(line);
  });
  child.on('exit', (code) => {
    if (code === 0 && lines.length === 0 && waiters.length === 0) return;
    failed = new Error(`worker exited with ${code}: ${stderr}`);
    for (const fail of failers.splice(0)) fail(failed);
    waiters.length = 0;
  });
  return () => {
    const line = lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (failed) return Promise.reject(failed);
    return new Promise((resolve, reject) => {
      waiters.push(resolve);
      failers.push(reject);
    });
  };
}
