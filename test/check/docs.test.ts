/** docs/check.md and the command stay in step, and the product points users to the check. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { culprits } from '../../src/check/index.js';
import { createProgram } from '../../src/cli/index.js';
import { reportPage } from '../../src/lab/report-page.js';

const root = join(import.meta.dirname, '..', '..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');
const doc = read('docs/check.md');

describe('docs/check.md', () => {
  it('documents every flag of unpinned check', () => {
    const command = createProgram().commands.find((c) => c.name() === 'check')!;
    const flags = command.options.map((o) => o.long!);
    expect(flags).toEqual(
      expect.arrayContaining([
        '--app',
        '--har',
        '--script',
        '--replicas',
        '--json',
        '--har-out',
        '--redis',
        '--env',
        '--ready',
      ]),
    );
    for (const flag of flags) expect(doc, flag).toContain(`\`${flag}`);
  });

  it('documents the warnings and what journey.skipped[].entry counts', () => {
    expect(doc).toContain('`UNPINNED_WARN_CHECK_REALTIME_NOT_REPLAYED`');
    expect(doc).toContain('`UNPINNED_WARN_CHECK_MOSTLY_SKIPPED`');
    expect(doc).toContain('"warnings": []');
    expect(doc).toMatch(/`entry`, its 0-based index\s+in the HAR's `log\.entries`/);
    expect(doc).toContain('## What it cannot see');
  });

  it('lists every culprit the check can name', () => {
    for (const id of Object.keys(culprits)) expect(doc, id).toContain(`\`${id}\``);
  });

  it('is linked from the README, the running system, the lab and its report', () => {
    expect(read('README.md')).toContain('unpinned check --app');
    expect(read('README.md')).toContain('(docs/check.md)');
    expect(read('docs/running.md')).toContain('(check.md)');
    expect(read('docs/lab.md')).toContain('(check.md)');
    expect(reportPage()).toContain('unpinned check --app');
    expect(read('src/cli/system.ts')).toContain('unpinned check --app');
  });
});
