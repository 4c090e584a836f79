/**
 * Finding the processes a test started, through /proc (Linux): by tree (children whose parent is
 * still alive) and by a tag in their environment (children inherit it, and it stays findable after
 * the parent died and they were handed to init). A zombie counts as gone: it holds no resources
 * and only waits for its new parent to collect it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { waitFor } from './wait.js';

function stat(pid: number): { ppid: number; state: string } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may hold spaces or parentheses: parse after the last ')'.
    const [state, ppid] = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(ppid), state: state! };
  } catch {
    return null;
  }
}

const allPids = () =>
  readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number);

/** True while `pid` runs (not exited, not a zombie). */
export function running(pid: number): boolean {
  const s = stat(pid);
  return s !== null && s.state !== 'Z';
}

/** The parent of `pid` (0 once gone). */
export function parentPid(pid: number): number {
  return stat(pid)?.ppid ?? 0;
}

/** `root` and every process below it, now. */
export function processTree(root: number): number[] {
  const parents = new Map(allPids().map((pid) => [pid, stat(pid)?.ppid ?? 0]));
  return [...parents.keys()].filter((pid) => {
    for (let p = pid; p > 1; p = parents.get(p) ?? 0) if (p === root) return true;
    return false;
  });
}

/** Running processes whose environment holds `UNPINNED_TEST_TAG=<tag>`. */
export function tagged(tag: string): number[] {
  const needle = `UNPINNED_TEST_TAG=${tag}\0`;
  return allPids().filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/environ`, 'latin1').includes(needle) && running(pid);
    } catch {
      return false;
    }
  });
}

/** The command line of `pid` ('' once gone). */
export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
  } catch {
    return '';
  }
}

/** Waits until none of `pids` runs; the error names those left. */
export async function waitGone(pids: number[], what: string, timeoutMs = 20_000): Promise<void> {
  await waitFor(() => pids.every((pid) => !running(pid)), { timeoutMs, intervalMs: 25, what }).catch(
    (error: Error) => {
      const left = pids.filter(running).map((pid) => `${pid} ${commandLine(pid)}`);
      throw new Error(`${error.message}; still running: ${left.join('; ')}`);
    },
  );
}
