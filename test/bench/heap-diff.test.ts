import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';
import { afterAll, describe, expect, it } from 'vitest';
import { kinds } from '../../bench/heap-diff.js';

/** A class of its own, so its objects are one kind that nothing else in the process shares. */
class HeapDiffProbe {
  constructor(readonly payload: string) {}
}

describe('heap-diff (what grew between two heap snapshots)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'unpinned-heap-diff-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('counts the objects of a kind that were kept between the snapshots, and their size', () => {
    const kept: HeapDiffProbe[] = [];
    const before = kinds(writeHeapSnapshot(join(dir, 'before.heapsnapshot')));
    for (let i = 0; i < 1000; i++) kept.push(new HeapDiffProbe(`value ${i}`));
    const after = kinds(writeHeapSnapshot(join(dir, 'after.heapsnapshot')));
    const grown =
      (after.get('object HeapDiffProbe')?.count ?? 0) - (before.get('object HeapDiffProbe')?.count ?? 0);
    expect(grown).toBe(1000);
    // Each object holds at least its header and one field.
    expect(after.get('object HeapDiffProbe')!.bytes).toBeGreaterThanOrEqual(1000 * 16);
    expect(kept).toHaveLength(1000);
  });
});
