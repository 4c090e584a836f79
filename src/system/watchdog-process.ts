/**
 * The watchdog program of a running system (see watchdog.ts). It reads what
 * the supervisor started from its stdin, one line each:
 *
 *   +group <pid>   a process group to end     -group <pid>   it ended on its own
 *   +path <path>   a file or folder to remove  -path <path>   removed already
 *
 * and does nothing else until stdin ends. The supervisor holds the only write
 * end of that pipe, so the kernel ends it when the supervisor exits in any way,
 * SIGKILL included: then every group still listed gets SIGTERM, SIGKILL after
 * a grace period, and every listed path is removed. A supervisor that stopped
 * cleanly has emptied both lists first, so the watchdog simply exits.
 */
import { rmSync } from 'node:fs';
import { createInterface } from 'node:readline';

const groups = new Set<number>();
const paths = new Set<string>();
/** Long enough for the shop (and most apps) to close; short enough to be done before anyone looks. */
const graceMs = Number(process.env.UNPINNED_WATCHDOG_GRACE_MS ?? 3000);

createInterface({ input: process.stdin })
  .on('line', (line) => {
    const space = line.indexOf(' ');
    const verb = line.slice(0, space);
    const value = line.slice(space + 1);
    if (verb === '+group') groups.add(Number(value));
    else if (verb === '-group') groups.delete(Number(value));
    else if (verb === '+path') paths.add(value);
    else if (verb === '-path') paths.delete(value);
  })
  .on('close', () => void reap());

/** Signal a whole process group; false when no process of it is left. */
function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    // A negative pid is the group: an app's own children (`npm start`, a shell) go with it.
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

async function reap(): Promise<void> {
  for (const pgid of groups) signalGroup(pgid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while ([...groups].some((pgid) => signalGroup(pgid, 0)) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  for (const pgid of groups) signalGroup(pgid, 'SIGKILL');
  for (const path of paths) rmSync(path, { recursive: true, force: true });
  process.exit(0);
}
