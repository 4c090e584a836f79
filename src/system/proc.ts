/** The processes of this machine as Linux's /proc lists them, for the few questions ps would answer. */
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcStat {
  pid: number;
  /** `R`, `S`, `D`, `Z` (zombie), `X` (dead)… */
  state: string;
  ppid: number;
  pgrp: number;
}

/**
 * Every process's pid, state, parent and process group, or null without /proc (not Linux).
 *
 * @example
 * procStats()?.filter((p) => p.pgrp === pgid && p.state !== 'Z');
 */
export function procStats(): ProcStat[] | null {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return null;
  }
  const out: ProcStat[] = [];
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
    const [state = '', ppid, pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.push({ pid: Number(name), state, ppid: Number(ppid), pgrp: Number(pgrp) });
  }
  return out;
}
