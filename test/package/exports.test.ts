/**
 * Every public entry point (`unpinned/<name>` in package.json's exports) must
 * also be mapped in tsconfig.json's paths to its source. Without the mapping
 * the compiler resolves the name through the exports to dist/: on a fresh
 * checkout that is a missing module, and next to an old build it is a second
 * copy of the same classes, so code importing both fails to type-check.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  name: string;
  exports: Record<string, { types: string; import: string }>;
};
const tsconfig = JSON.parse(readFileSync(join(root, 'tsconfig.json'), 'utf8')) as {
  compilerOptions: { paths: Record<string, string[]> };
};

describe('package entry points', () => {
  const entries = Object.entries(manifest.exports);

  it('has at least the session core and one store', () => {
    expect(entries.map(([path]) => path)).toEqual(expect.arrayContaining(['.', './redis']));
  });

  it.each(entries)('maps %s in tsconfig paths to the source its build comes from', (path, target) => {
    const name = path === '.' ? manifest.name : `${manifest.name}/${path.slice(2)}`;
    const source = target.types.replace('./dist/', './').replace(/\.d\.ts$/, '.ts');
    expect(tsconfig.compilerOptions.paths[name]).toEqual([source]);
    expect(target.import.replace('./dist/', './').replace(/\.js$/, '.ts')).toBe(source);
  });
});
