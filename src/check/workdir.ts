/**
 * Each replica's own disk: a private copy of the app's working directory, so a
 * file one replica writes under `./uploads` is not there for the others, as on
 * separate machines. Dependencies are linked, not copied (they are read-only to
 * an app and large): every `node_modules` in the tree, the nearest one above it
 * (a monorepo's hoisted packages), and `.git`.
 */
import {
  constants,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  statfsSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { CheckError } from './errors.js';

const linked = new Set(['node_modules', '.git']);
/** More than this many files outside node_modules is not an app's directory (`/`, a home directory). */
const maxEntries = 20_000;

/** The nearest `node_modules` strictly above `dir`, or null. */
function hoisted(dir: string): string | null {
  for (let d = dirname(dir); ; d = dirname(d)) {
    const candidate = join(d, 'node_modules');
    if (existsSync(candidate)) return candidate;
    if (dirname(d) === d) return null;
  }
}

/**
 * Copies `source` to `target/app` and links dependencies; returns the copy's path.
 * `exclude` is never copied (the check's own scratch directory, when it lies inside).
 *
 * @example
 * const app = copyWorkdir(process.cwd(), '/tmp/unpinned-check-x/replica-1', '/tmp/unpinned-check-x');
 */
export function copyWorkdir(source: string, target: string, exclude: string): string {
  const app = join(target, 'app');
  const links: string[] = [];
  let entries = 0;
  try {
    mkdirSync(target, { recursive: true });
    cpSync(source, app, {
      recursive: true,
      verbatimSymlinks: true,
      preserveTimestamps: true,
      // A reflink where the file system has them (btrfs, XFS): a copy in name only until written.
      mode: constants.COPYFILE_FICLONE,
      filter: (from) => {
        if (from === source) return true;
        if (from === exclude) return false;
        if (++entries > maxEntries) {
          throw new Error(
            `more than ${maxEntries} files outside node_modules: is this your app's directory?`,
          );
        }
        if (linked.has(basename(from))) {
          links.push(from);
          return false;
        }
        const stat = lstatSync(from, { throwIfNoEntry: false });
        // Sockets and FIFOs cannot be copied (and belong to a running process anyway).
        return stat !== undefined && (stat.isFile() || stat.isDirectory() || stat.isSymbolicLink());
      },
    });
    for (const from of links) symlinkSync(from, join(app, relative(source, from)));
    const above = hoisted(source);
    if (above) symlinkSync(above, join(target, 'node_modules'));
  } catch (cause) {
    throw new CheckError(
      'UNPINNED_ERR_CHECK_WORKDIR',
      `Could not copy the working directory ${source} for a replica (${(cause as Error).message}). Run the check from your app's directory, with room in ${dirname(target)}.`,
      { cause },
    );
  }
  return app;
}

/** Bytes a copy of `source` takes (what `copyWorkdir` copies, links not followed). */
export function workdirSize(source: string): number {
  try {
    return sizeOf(source);
  } catch (cause) {
    throw new CheckError(
      'UNPINNED_ERR_CHECK_WORKDIR',
      `Cannot read the working directory ${source} (${(cause as Error).message}): run the check from your app's directory.`,
      { cause },
    );
  }
}

function sizeOf(source: string): number {
  let bytes = 0;
  let entries = 0;
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (linked.has(entry.name) || ++entries > maxEntries) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) bytes += lstatSync(path).size;
    }
  };
  walk(source);
  return bytes;
}

/**
 * Where the replicas' disks go: `UNPINNED_CHECK_DIR` if set, else a RAM disk
 * (/dev/shm) when `bytes` fit there with room to spare, else the system's temp
 * directory. Copying a working directory to a RAM disk is some twenty times
 * faster than to a busy disk, and a check copies it for every replica of every run.
 *
 * @example
 * const root = mkdtempSync(join(scratchParent(workdirSize(cwd) * 4), 'unpinned-check-'));
 */
export function scratchParent(bytes: number): string {
  if (process.env.UNPINNED_CHECK_DIR) return process.env.UNPINNED_CHECK_DIR;
  try {
    const fs = statfsSync('/dev/shm');
    if (fs.bavail * fs.bsize > bytes + 256 * 1024 * 1024) return '/dev/shm';
  } catch {
    // No RAM disk here.
  }
  return tmpdir();
}
