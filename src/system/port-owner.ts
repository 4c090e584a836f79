/**
 * Who listens on a loopback port, from /proc (Linux).
 *
 * An app server is given a port that was free a moment before it starts (`freePort`), and is
 * judged ready when that port answers HTTP. Between the two, any other process on the machine
 * that listens on port 0 may be handed the same port by the kernel; the app then fails with
 * EADDRINUSE, or keeps running without listening, while the readiness probe, the balancer or the
 * check talk to the stranger. A full test run once called a stateful fixture of `unpinned check`
 * stateless, which this explains: a replica answering for another process makes every step of a
 * single-replica run differ, and the differences are learned as noise. Asking the kernel which
 * socket listens, and which processes hold it, closes that gap.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { procStats } from './proc.js';

/**
 * Whether the socket listening on `port` belongs to the process `pid`, one of its descendants
 * or its process group; `unknown` where /proc cannot say (not Linux, or no listener in the
 * tables of this network namespace).
 *
 * @example
 * portOwnedBy(child.pid, 43121); // 'yes' | 'no' | 'unknown'
 */
export function portOwnedBy(pid: number, port: number): 'yes' | 'no' | 'unknown' {
  return portOwner(pid, port).owned;
}

/**
 * As `portOwnedBy`, and which process of the tree holds the socket: the app itself when `pid` is
 * a shell or `npm` that started it (its pid is what the app prints as its own).
 *
 * @example
 * portOwner(shell.pid, 43121); // { owned: 'yes', pid: 43125 }
 */
export function portOwner(pid: number, port: number): { owned: 'yes' | 'no' | 'unknown'; pid?: number } {
  const inodes = listeningInodes(port);
  if (inodes === null || inodes.size === 0) return { owned: 'unknown' };
  // Most apps listen in the process started; the walk over every process is for the others
  // (`npm start`, a shell, a cluster primary with workers).
  if (holdsSocket(pid, inodes)) return { owned: 'yes', pid };
  for (const p of processTree(pid)) if (p !== pid && holdsSocket(p, inodes)) return { owned: 'yes', pid: p };
  return { owned: 'no' };
}

/** Inodes of the sockets in LISTEN state on `port` (IPv4 and IPv6), or null without /proc. */
function listeningInodes(port: number): Set<string> | null {
  const inodes = new Set<string>();
  let readAny = false;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    readAny = true;
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx:rx tr:tm retrnsmt uid timeout inode
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '0A') continue;
      const local = f[1]!;
      if (Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16) === port) inodes.add(f[9]!);
    }
  }
  return readAny ? inodes : null;
}

/** `pid`, every process descended from it, and every process in its process group. */
function processTree(pid: number): number[] {
  const parents = new Map<number, number[]>();
  const tree = new Set<number>([pid]);
  const stats = procStats();
  if (!stats) return [pid];
  for (const p of stats) {
    if (p.pgrp === pid) tree.add(p.pid);
    const list = parents.get(p.ppid);
    if (list) list.push(p.pid);
    else parents.set(p.ppid, [p.pid]);
  }
  const queue = [...tree];
  while (queue.length > 0) {
    for (const c of parents.get(queue.pop()!) ?? []) {
      if (tree.has(c)) continue;
      tree.add(c);
      queue.push(c);
    }
  }
  return [...tree];
}

function holdsSocket(pid: number, inodes: Set<string>): boolean {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  for (const fd of fds) {
    let link: string;
    try {
      link = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    if (link.startsWith('socket:[') && inodes.has(link.slice(8, -1))) return true;
  }
  return false;
}
