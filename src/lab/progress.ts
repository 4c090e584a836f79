/**
 * Progress while the lab runs, on stderr: a redrawn bar per run when stderr is a
 * terminal, one plain line per started and finished run otherwise (CI logs,
 * pipes), so the JSON on stdout or in a file is never mixed with it.
 */
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
