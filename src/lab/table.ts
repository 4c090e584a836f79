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
  const arch = entry.applicable
    ? `${entry.label ?? entry.architecture} (${entry.strategy})`
    : entry.architecture;
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

/** What the table does not show: when each fault happened, where the load went after it, the trade-offs. */
export function formatNotes(result: LabResult): string {
  const lines: string[] = [];
  for (const [id, s] of Object.entries(result.scenarios)) {
    for (const e of [s.sticky, s.stateless]) {
      if (!e.applicable || !e.fault) continue;
      const f = e.fault;
      const after = Object.entries(f.perServerAfter ?? {})
        .map(([name, n]) => `${name}:${n}`)
        .join(' ');
      const recovery =
        f.recoveryMs === undefined ? '' : `; failures ended ${f.recoveryMs} ms after the store was back`;
      lines.push(
        `${id} ${e.architecture}: ${f.label} at ${seconds(f.atMs)}, done at ${seconds(f.doneMs)}${recovery}; after it: ${after}`,
      );
    }
  }
  for (const [id, s] of Object.entries(result.scenarios)) {
    for (const e of [s.sticky, s.stateless]) {
      if (!e.applicable || e.failedRequests === 0) continue;
      const causes = Object.entries(e.failures)
        .map(([cause, n]) => `${n} × ${cause}`)
        .join(', ');
      lines.push(`${id} ${e.architecture}: failed requests: ${causes}`);
    }
  }
  const overhead = result.scenarios.overhead;
  if (overhead?.sticky.applicable && overhead.stateless.applicable) {
    const { sticky, stateless } = overhead;
    const work = stateless.sessionWork;
    if (work) {
      const rtt = stateless.storeRtt;
      lines.push(
        `overhead: session lookup adds ${work.sessionP50Us} µs at p50, ${work.sessionP99Us} µs at p99, ${work.sharePercent} % of request time ` +
          `(load + commit inside the app, whose own time per request is ${work.appP50Us} µs at p50` +
          `${sticky.sessionWork ? `; in-memory sessions: ${sticky.sessionWork.sessionP50Us} µs` : ''}` +
          `${rtt ? `; Redis PING from the host: ${rtt.p50Us} µs p50, ${rtt.p99Us} µs p99` : ''})`,
      );
    }
    lines.push(
      `overhead: end to end through the balancer, p50 ${sticky.p50Ms} ms in-memory and ${stateless.p50Ms} ms with the store ` +
        '(includes the load generator, the balancer and every process sharing this host)',
    );
  }
  return lines.join('\n');
}

function seconds(ms: number | null): string {
  return ms === null ? '?' : `${(ms / 1000).toFixed(1)} s`;
}
