/**
 * Progress while the lab runs, on stderr: a redrawn bar per run when stderr is a
 * terminal, one plain line per started and finished run otherwise (CI logs,
 * pipes), so the JSON on stdout or in a file is never mixed with it.
 */
import type { Logger } from '../observe/log.js';
import { isRealtime, type ProgressEvent, type RunEntry, type Sample } from './run.js';

export interface ProgressOptions {
  stream?: NodeJS.WriteStream;
  /** Force plain lines even on a terminal. */
  plain?: boolean;
}

/** A progress listener for `runLab({ onProgress })`; call `stop()` when the lab is done. */
export function progressReporter({ stream = process.stderr, plain }: ProgressOptions = {}) {
  const tty = !plain && stream.isTTY === true;
  let timer: NodeJS.Timeout | null = null;
  let label = '';
  let sample: (() => Sample) | null = null;
  const draw = () => {
    if (!sample) return;
    const s = sample();
    const status =
      s.phase === 'starting'
        ? 'starting the system…'
        : `${s.status ?? `${s.requests} requests, ${s.sessionsLost} sessions lost`}${s.phase === 'stopping' ? ', stopping…' : ''}`;
    stream.write(`\r\x1b[2K${label} ${bar(s.fraction)} ${status}`);
  };
  const onProgress = (event: ProgressEvent) => {
    if (event.kind === 'skip') {
      stream.write(`${event.scenario} skipped: ${event.reason}\n`);
      return;
    }
    label = `[${event.index + 1}/${event.total}] ${event.scenario.padEnd(14)} ${event.architecture.padEnd(9)}`;
    if (event.kind === 'start') {
      sample = event.sample;
      if (tty) timer ??= setInterval(draw, 200);
      else stream.write(`${label} running…\n`);
      return;
    }
    sample = null;
    stream.write(`${tty ? '\r\x1b[2K' : ''}${label} done: ${summary(event.result)}\n`);
  };
  const stop = () => {
    if (timer) clearInterval(timer);
    timer = null;
  };
  return { onProgress, stop };
}

function summary(r: RunEntry): string {
  if (!r.applicable) return `not applicable: ${r.reason}`;
  if (isRealtime(r)) {
    return `${r.expected} messages owed, ${r.lost} lost, ${r.duplicated} duplicated, ${r.reordered} reordered, ${r.cut} subscribers cut, resume p99 ${r.resumeP99Ms ?? '–'} ms`;
  }
  return `${r.requests} requests, ${r.failedRequests} failed, ${r.sessionsLost} sessions and ${r.itemsLost} items lost, p99 ${r.p99Ms} ms`;
}

export function bar(fraction: number, width = 24): string {
  const full = Math.round(Math.max(0, Math.min(1, fraction)) * width);
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${String(Math.round(fraction * 100)).padStart(3)}%`;
}

/**
 * Progress as JSON lines (`unpinned lab --log-format json`): one line per started and finished
 * run, with the run's figures as fields, for a log shipper instead of a person.
 */
export function jsonProgress(logger: Logger): (event: ProgressEvent) => void {
  return (event) => {
    if (event.kind === 'skip') {
      return logger.warn(
        { scenario: event.scenario, skipped: true, reason: event.reason },
        `${event.scenario}: skipped`,
      );
    }
    const base = {
      scenario: event.scenario,
      architecture: event.architecture,
      run: event.index + 1,
      runs: event.total,
    };
    const name = `${event.scenario} ${event.architecture}`;
    if (event.kind === 'start') return logger.info(base, `${name}: running`);
    const r = event.result;
    if (!r.applicable)
      return logger.info({ ...base, applicable: false, reason: r.reason }, `${name}: not applicable`);
    if (isRealtime(r)) {
      const live = {
        ...base,
        applicable: true,
        strategy: r.strategy,
        subscribers: r.subscribers,
        expected: r.expected,
        delivered: r.delivered,
        lost: r.lost,
        duplicated: r.duplicated,
        reordered: r.reordered,
        resets: r.resets,
        cut: r.cut,
        resumed: r.resumed,
        resumeP50Ms: r.resumeP50Ms,
        resumeP99Ms: r.resumeP99Ms,
        fault: r.fault?.label ?? null,
      };
      // Messages lost or out of order are what the scenario shows: a warning, as for sessions.
      if (r.lost > 0 || r.duplicated > 0 || r.reordered > 0) logger.warn(live, `${name}: done`);
      else logger.info(live, `${name}: done`);
      return;
    }
    const figures = {
      ...base,
      applicable: true,
      strategy: r.strategy,
      requests: r.requests,
      failedRequests: r.failedRequests,
      sessionsLost: r.sessionsLost,
      itemsLost: r.itemsLost,
      p50Ms: r.p50Ms,
      p99Ms: r.p99Ms,
      fault: r.fault?.label ?? null,
      ...(r.fault?.recoveryMs !== undefined ? { recoveryMs: r.fault.recoveryMs } : {}),
    };
    // Lost state is what the lab exists to show: a warning, so it stands out in a log.
    if (r.sessionsLost > 0 || r.itemsLost > 0) logger.warn(figures, `${name}: done`);
    else logger.info(figures, `${name}: done`);
  };
}
