/**
 * Benchmarks publish their figures into docs/benchmarks.md (or the guide named by
 * `page`) between `<!-- name:start -->` and `<!-- name:end -->` markers, so the page
 * always shows what was measured and each benchmark rewrites only its own section.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function writeDocSection(root: string, name: string, section: string, page = 'benchmarks.md'): void {
  const path = join(root, 'docs', page);
  const doc = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n';
  const [open, close] = [`<!-- ${name}:start -->`, `<!-- ${name}:end -->`];
  const start = doc.indexOf(open);
  const end = doc.indexOf(close);
  const next =
    start >= 0 && end > start
      ? doc.slice(0, start) + section + doc.slice(end + close.length)
      : `${doc.trimEnd()}\n\n${section}\n`;
  writeFileSync(path, next);
  // The repo's formatter owns Markdown tables too; keep the regenerated page `npm test`-clean.
  try {
    execFileSync(join(root, 'node_modules/.bin/biome'), ['format', '--write', path], { stdio: 'ignore' });
  } catch {
    console.log(`note: could not run biome on ${path}; run \`npm run format\` before committing it`);
  }
}
