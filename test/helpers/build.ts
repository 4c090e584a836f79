/**
 * The package compiled to JavaScript, for tests that run code in real child
 * processes (Node 20 cannot run TypeScript). Built once per test file into a
 * private folder under node_modules/.cache, so optional dependencies resolve
 * from the project and parallel test files never share an output folder.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

/**
 * Lets code placed in a build import the package by its public name
 * (`unpinned/redis`, ...), as a user's app does: a package.json at the build's
 * root, with the package's name and its exports mapped into the build (Node
 * resolves a package's own name through the nearest such package.json).
 */
export function makeSelfImportable(dist: string): void {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    exports: Record<string, Record<string, string>>;
  };
  const exports = Object.fromEntries(
    Object.entries(manifest.exports).map(([path, target]) => [path, target.import!.replace('./dist/', './')]),
  );
  writeFileSync(join(dist, 'package.json'), JSON.stringify({ name: 'unpinned', type: 'module', exports }));
}
