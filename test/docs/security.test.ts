/**
 * docs/security.md cites, for each requirement, the test that proves it (`file` › "name") and
 * links the code. Those citations must stay true: every cited file exists and has a test of
 * that exact name, every linked file exists.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const doc = readFileSync(join(root, 'docs', 'security.md'), 'utf8');

/** [file, test name] for every `test/…` › "name", "name" in the page. */
function citations(): [string, string][] {
  const found: [string, string][] = [];
  for (const match of doc.matchAll(/`(test\/[\w./-]+)` › ((?:"[^"]+"(?:, )?)+)/g)) {
    const names = match[2]!.replace(/^"|"$/g, '').split('", "');
    for (const name of names) found.push([match[1]!, name]);
  }
  return found;
}

describe('docs/security.md', () => {
  it('cites tests that exist, by their exact names', () => {
    const cited = citations();
    expect(cited.length).toBeGreaterThan(40);
    const missing = cited.filter(([file, name]) => {
      const path = join(root, file);
      if (!existsSync(path)) return true;
      const source = readFileSync(path, 'utf8');
      return !['"', "'", '`'].some((q) => source.includes(`(${q}${name}${q}`));
    });
    expect(missing).toEqual([]);
  });

  it('links code and docs that exist', () => {
    const links = [...doc.matchAll(/\]\((\.\.\/[^)#]+|[\w-]+\.md)(?:#[^)]*)?\)/g)].map((m) => m[1]!);
    expect(links.length).toBeGreaterThan(10);
    expect(links.filter((link) => !existsSync(join(root, 'docs', link)))).toEqual([]);
  });
});
