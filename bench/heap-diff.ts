/**
 * `node dist/bench/heap-diff.js <first.heapsnapshot> <last.heapsnapshot>`: what grew between two
 * V8 heap snapshots of one process, by kind of object (node type and constructor or, for
 * strings and code, the type alone), largest growth in self size first. A leak shows as a kind
 * whose count and size keep rising with the requests served; warm-up shows as code, feedback
 * vectors and caches that level off. Reads the snapshot format V8 documents in its `meta` field,
 * so it needs nothing but the files.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: unknown[] } };
  nodes: number[];
  strings: string[];
}

interface Kind {
  count: number;
  bytes: number;
}

/** Objects grouped by kind; the names of plain strings are not their text but "(string)". */
export function kinds(path: string): Map<string, Kind> {
  const snap = JSON.parse(readFileSync(path, 'utf8')) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  // The type field's entry in node_types is the list of type names; the others are scalar kinds.
  const types = snap.snapshot.meta.node_types[typeAt] as string[];
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const out = new Map<string, Kind>();
  const { nodes, strings } = snap;
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + typeAt]!]!;
    // Object and closure names are their constructors or functions; every other type's names
    // (string contents, numbers, code names) would make each node its own kind.
    const key =
      type === 'object' || type === 'closure' ? `${type} ${strings[nodes[i + nameAt]!]}` : `(${type})`;
    const kind = out.get(key) ?? { count: 0, bytes: 0 };
    kind.count++;
    kind.bytes += nodes[i + sizeAt]!;
    out.set(key, kind);
  }
  return out;
}

function main(): void {
  const [firstPath, lastPath, top = '25'] = process.argv.slice(2);
  if (!firstPath || !lastPath) {
    console.error('usage: node dist/bench/heap-diff.js <first.heapsnapshot> <last.heapsnapshot> [rows]');
    process.exit(2);
  }
  const first = kinds(firstPath);
  const last = kinds(lastPath);
  const total = (m: Map<string, Kind>) => [...m.values()].reduce((n, k) => n + k.bytes, 0);
  const rows = [...new Set([...first.keys(), ...last.keys()])]
    .map((key) => {
      const a = first.get(key) ?? { count: 0, bytes: 0 };
      const b = last.get(key) ?? { count: 0, bytes: 0 };
      return {
        key,
        count: b.count - a.count,
        bytes: b.bytes - a.bytes,
        countNow: b.count,
        bytesNow: b.bytes,
      };
    })
    .sort((x, y) => y.bytes - x.bytes);
  const mb = (n: number) => (n / 2 ** 20).toFixed(2);
  console.log(`self size: ${mb(total(first))} MB -> ${mb(total(last))} MB`);
  console.log('kind\tcount change\tMB change\tcount now\tMB now');
  for (const r of rows.slice(0, Number(top)))
    console.log(`${r.key}\t${r.count}\t${mb(r.bytes)}\t${r.countNow}\t${mb(r.bytesNow)}`);
  const shrank = rows.filter((r) => r.bytes < 0).reduce((n, r) => n + r.bytes, 0);
  console.log(`(kinds that shrank: ${mb(shrank)} MB together)`);
}

// Run as a script (also through a symlink or a path with spaces), not when imported by a test.
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) main();
