/**
 * The watchdog program of a running system (see watchdog.ts). It reads what
 * the supervisor started from its stdin, one line each:
 *
 *   +group <pid> <wave>   a process group to end, in waves (0 first)   -group <pid>   it ended
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

/** Process group → its wave: app servers (0) end before the store (1) they talk to. */
const groups = new Map<number, number>();
const paths = new Set<string>();
/** Long enough for the shop (and most apps) to close; short enough to be done before anyone looks. */
const graceMs = Number(process.env.UNPINNED_WATCHDOG_GRACE_MS ?? 3000);

createInterface({ input: process.stdin })
  .on('line', (line) => {
    const space = line.indexOf(' ');
    const verb = line.slice(0, space);
    const value = line.slice(space + 1);
    if (verb === '+group') {
      const [pgid, wave] = value.split(' ');
      groups.set(Number(pgid), Number(wave ?? 0));
    } else if (verb === '-group') groups.delete(Number(value));
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

/**
 * SIGTERM wave by wave, the order of a graceful stop: an app server whose store is already gone
 * can hang in its own shutdown (closing a client that keeps reconnecting) until SIGKILL.
 */
async function reap(): Promise<void> {
  const deadline = Date.now() + graceMs;
  for (const wave of [...new Set(groups.values())].sort()) {
    const members = [...groups].filter(([, w]) => w === wave).map(([pgid]) => pgid);
    for (const pgid of members) signalGroup(pgid, 'SIGTERM');
    while (members.some((pgid) => signalGroup(pgid, 0)) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  for (const pgid of groups.keys()) signalGroup(pgid, 'SIGKILL');
  for (const path of paths) rmSync(path, { recursive: true, force: true });
  process.exit(0);
}
