/**
 * Progress while the lab runs, on stderr: a redrawn bar per run when stderr is a
 * terminal, one plain line per started and finished run otherwise (CI logs,
 * pipes), so the JSON on stdout or in a file is never mixed with it.
 */
import type { ProgressEvent, Sample } from './run.js';

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
        : `${s.requests} requests, ${s.sessionsLost} sessions lost${s.phase === 'stopping' ? ', stopping…' : ''}`;
    stream.write(`\r\x1b[2K${label} ${bar(s.fraction)} ${status}`);
  };
  const onProgress = (event: ProgressEvent) => {
    label = `[${event.index + 1}/${event.total}] ${event.scenario.padEnd(14)} ${event.architecture.padEnd(9)}`;
    if (event.kind === 'start') {
      sample = event.sample;
      if (tty) timer ??= setInterval(draw, 200);
      else stream.write(`${label} running…\n`);
      return;
    }
    sample = null;
    const r = event.result;
    const summary = r.applicable
      ? `${r.requests} requests, ${r.failedRequests} failed, ${r.sessionsLost} sessions and ${r.itemsLost} items lost, p99 ${r.p99Ms} ms`
      : `not applicable: ${r.reason}`;
    stream.write(`${tty ? '\r\x1b[2K' : ''}${label} done: ${summary}\n`);
  };
  const stop = () => {
    if (timer) clearInterval(timer);
    timer = null;
  };
  return { onProgress, stop };
}

export function bar(fraction: number, width = 24): string {
  const full = Math.round(Math.max(0, Math.min(1, fraction)) * width);
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${String(Math.round(fraction * 100)).padStart(3)}%`;
}
