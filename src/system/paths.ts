import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package's root directory, whether running from src/ (tests) or dist/ (the binary). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('unpinned: cannot find the package root');
    dir = parent;
  }
  return dir;
}

/** The built demo shop server (`npm run build` produces it). */
export function shopServerPath(): string {
  return join(packageRoot(), 'dist', 'examples', 'shop', 'server.js');
}
