/** Finding the external programs the system and its tests run (redis-server, haproxy, nginx). */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Path of `name` on PATH (or in /usr/sbin, where Debian puts daemons), or null. */
export function findBinary(name: string): string | null {
  try {
    const found = execFileSync('/bin/sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
    if (found) return found;
  } catch {
    // not on PATH
  }
  for (const dir of ['/usr/sbin', '/usr/local/sbin']) {
    if (existsSync(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  return null;
}
