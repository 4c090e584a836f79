/** The lab's results as plain-text tables for the terminal. */
import type { RealtimeRun } from './realtime.js';
import { isRealtime, type LabResult, type NotApplicable, type RunResult } from './run.js';

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

const realtimeColumns = [
  'scenario',
  'architecture',
  'subscribers',
  'messages owed',
  'lost',
  'duplicated',
  'reordered',
  'resets',
  'cut',
  'resumed',
  'resume p50 ms',
  'resume p99 ms',
];

/**
 * One table for the scenarios of virtual shoppers, and one for the realtime scenario (whose
 * figures are messages, not requests), below it.
 */
export function formatTable(result: LabResult): string {
  const rows: string[][] = [];
  const realtimeRows: string[][] = [];
  for (const [id, s] of Object.entries(result.scenarios)) {
    for (const entry of [s.sticky, s.stateless]) {
      if (isRealtime(entry)) realtimeRows.push(realtimeRow(id, entry));
      else rows.push(row(id, entry));
    }
  }
  const tables: string[] = [];
  if (rows.length || !realtimeRows.length) tables.push(grid(columns, rows, true));
  if (realtimeRows.length) tables.push(grid(realtimeColumns, realtimeRows, false));
  return tables.join('\n\n');
}

/** Text columns (the first two, and the last when `lastIsText`) left-aligned, numbers right. */
function grid(header: string[], rows: string[][], lastIsText: boolean): string {
  const widths = header.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i]!.length)));
  const text = (i: number) => i < 2 || (lastIsText && i === header.length - 1);
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (text(i) ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function realtimeRow(id: string, e: RealtimeRun): string[] {
  const ms = (v: number | null) => (v === null ? '–' : String(v));
  return [
    id,
    `${e.architecture}: ${e.label} (${e.strategy})`,
    String(e.subscribers),
    String(e.expected),
    String(e.lost),
    String(e.duplicated),
    String(e.reordered),
    String(e.resets),
    String(e.cut),
    String(e.resumed),
    ms(e.resumeP50Ms),
    ms(e.resumeP99Ms),
  ];
}

function row(id: string, entry: RunResult | NotApplicable): string[] {
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
  for (const s of result.skipped ?? []) lines.push(`${s.scenario}: skipped: ${s.reason}`);
  for (const [id, s] of Object.entries(result.scenarios)) {
    for (const e of [s.sticky, s.stateless]) {
      if (isRealtime(e)) {
        lines.push(realtimeNote(id, e));
        continue;
      }
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
      if (!e.applicable || isRealtime(e) || e.failedRequests === 0) continue;
      const causes = Object.entries(e.failures)
        .map(([cause, n]) => `${n} × ${cause}`)
        .join(', ');
      lines.push(`${id} ${e.architecture}: failed requests: ${causes}`);
    }
  }
  const overhead = result.scenarios.overhead;
  const sticky = overhead?.sticky;
  const stateless = overhead?.stateless;
  if (sticky?.applicable && stateless?.applicable && !isRealtime(sticky) && !isRealtime(stateless)) {
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

function realtimeNote(id: string, e: RealtimeRun): string {
  const f = e.fault;
  const fault = f ? `${f.label} at ${seconds(f.atMs)}` : 'no fault';
  const resume =
    e.resumeP50Ms === null
      ? ''
      : ` (resume p50 ${e.resumeP50Ms} ms, p99 ${e.resumeP99Ms} ms, max ${e.resumeMaxMs} ms)`;
  return (
    `${id} ${e.architecture}: ${e.label} over ${e.transport}; ${fault}: ${e.cut} of ${e.subscribers} subscribers cut, ${e.resumed} resumed${resume}; ` +
    `${e.rooms} rooms × ${e.published} messages (${e.publishedPerSec}/s), ${e.delivered} of ${e.expected} owed delivered; ${e.failedConnects} failed connects`
  );
}

function seconds(ms: number | null): string {
  return ms === null ? '?' : `${(ms / 1000).toFixed(1)} s`;
}
