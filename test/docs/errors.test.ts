/** docs/errors.md and the code stay in step: every code used is documented, every documented code is used. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { errorCodes } from '../../src/session/errors.js';

const root = join(import.meta.dirname, '..', '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

const codePattern = /UNPINNED_ERR_[A-Z0-9_]+/g;
const usedInSource = new Set(
  sourceFiles(join(root, 'src')).flatMap((f) => readFileSync(f, 'utf8').match(codePattern) ?? []),
);
const docs = readFileSync(join(root, 'docs', 'errors.md'), 'utf8');
const documented = new Set(
  docs
    .split('\n')
    .filter((line) => line.startsWith('| `UNPINNED_ERR_'))
    .map((line) => line.match(codePattern)![0]),
);

describe('docs/errors.md', () => {
  it('documents every error code the source raises', () => {
    expect([...usedInSource].filter((code) => !documented.has(code))).toEqual([]);
  });

  it('lists no code the source does not use', () => {
    expect([...documented].filter((code) => !usedInSource.has(code))).toEqual([]);
  });

  it('lists each code once', () => {
    const rows = docs.split('\n').filter((line) => line.startsWith('| `UNPINNED_ERR_'));
    expect(rows.length).toBe(documented.size);
  });

  it('matches the session registry that error messages come from', () => {
    for (const code of Object.keys(errorCodes)) expect(documented.has(code)).toBe(true);
  });
});
