/** The lab's results as a plain-text table for the terminal. */
import type { LabResult, RunEntry } from './run.js';

const columns = [
  'scenario',
  'architecture',
  'requests',
  'failed',
  'sessions lost',
  'items lost',
  'p50 ms',
  'p99 ms',
  'max/mean',
  'per server',
];

export function formatTable(result: LabResult): string {
  const rows: string[][] = [];
  for (const [id, s] of Object.entries(result.scenarios)) {
    for (const entry of [s.sticky, s.stateless]) rows.push(row(id, entry));
  }
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i < 2 || i === cells.length - 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function row(id: string, entry: RunEntry): string[] {
  const arch = entry.applicable ? `${entry.architecture} (${entry.strategy})` : entry.architecture;
  if (!entry.applicable) return [id, arch, 'n/a', '', '', '', '', '', '', entry.reason];
  const perServer = Object.entries(entry.perServer)
    .map(([name, n]) => `${name}:${n}`)
    .join(' ');
  return [
    id,
    arch,
    String(entry.requests),
    String(entry.failedRequests),
    String(entry.sessionsLost),
    String(entry.itemsLost),
    entry.p50Ms.toFixed(1),
    entry.p99Ms.toFixed(1),
    entry.imbalance.toFixed(2),
    perServer,
  ];
}
