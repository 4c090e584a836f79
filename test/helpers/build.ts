/**
 * The package compiled to JavaScript, for tests that run code in real child
 * processes (Node 20 cannot run TypeScript). Built once per test file into a
 * private folder under node_modules/.cache, so optional dependencies resolve
 * from the project and parallel test files never share an output folder.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const root = join(import.meta.dirname, '..', '..');

export async function buildPackage(): Promise<{ dist: string; remove(): void }> {
  const parent = join(root, 'node_modules', '.cache');
  await import('node:fs/promises').then((fs) => fs.mkdir(parent, { recursive: true }));
  const dist = mkdtempSync(join(parent, 'unpinned-test-build-'));
  await promisify(execFile)(
    join(root, 'node_modules', '.bin', 'tsc'),
    ['-p', 'tsconfig.build.json', '--outDir', dist],
    {
      cwd: root,
    },
  );
  return { dist, remove: () => rmSync(dist, { recursive: true, force: true }) };
}
