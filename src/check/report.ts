/** The terminal report of `unpinned check`: the verdict first, then the one finding, read in ten seconds. */
import type { CheckResult, Finding } from './check.js';
import type { Skipped } from './har-journey.js';

/** `1 step`, `2 steps`. */
const count = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/**
 * What the verdict does not cover, said next to it (`warnings` in the JSON). The codes are stable;
 * the messages may change.
 */
export interface CheckWarning {
  code: 'UNPINNED_WARN_CHECK_REALTIME_NOT_REPLAYED' | 'UNPINNED_WARN_CHECK_MOSTLY_SKIPPED';
  message: string;
}

const target = (s: Skipped): URL | null => {
  try {
    return new URL(s.request.slice(s.request.indexOf(' ') + 1));
  } catch {
    return null;
  }
};
const isWebSocket = (s: Skipped) => /^wss?:$/.test(target(s)?.protocol ?? '') || /websocket/i.test(s.reason);
const isEventStream = (s: Skipped) => /event.stream/i.test(s.reason);

/**
 * A verdict on a journey whose app traffic was mostly skipped (a chat whose every message went
 * over a WebSocket) would read as "stateless" with nothing to say how little it rests on. `origin`
 * is the app's, for telling its skipped requests from those to a CDN or an analytics host.
 *
 * @example
 * checkWarnings({ steps: 2, skipped: result.journey.skipped }, new URL('http://localhost:3000'));
 */
export function checkWarnings(journey: { steps: number; skipped: Skipped[] }, origin?: URL): CheckWarning[] {
  const warnings: CheckWarning[] = [];
  const sockets = journey.skipped.filter(isWebSocket);
  const streams = journey.skipped.filter((s) => !isWebSocket(s) && isEventStream(s));
  if (sockets.length || streams.length) {
    const io = sockets.some((s) => target(s)?.pathname.includes('/socket.io'));
    const what = [
      ...(sockets.length ? [count(sockets.length, 'WebSocket connection')] : []),
      ...(streams.length ? [count(streams.length, 'event stream')] : []),
    ].join(' and ');
    warnings.push({
      code: 'UNPINNED_WARN_CHECK_REALTIME_NOT_REPLAYED',
      message: `The recording has ${what}${io ? ' (Socket.IO over WebSocket)' : ''}, not replayed: ${sockets.length + streams.length === 1 ? 'its' : 'their'} messages were not checked, nor whether a broadcast or a room reaches clients on other replicas (that needs an adapter every replica shares, such as @socket.io/redis-adapter or unpinned/realtime). See docs/check.md#what-it-cannot-see.`,
    });
  }
  // A skipped request went to the app when it has the app's host (a ws: URL included); without
  // the origin, every skipped request that did not go to another origin.
  const toApp = journey.skipped.filter((s) => {
    const url = target(s);
    return origin && url ? url.host === origin.host : !/another origin/i.test(s.reason);
  });
  if (toApp.length > journey.steps) {
    const total = toApp.length + journey.steps;
    warnings.push({
      code: 'UNPINNED_WARN_CHECK_MOSTLY_SKIPPED',
      message: `Most of the recorded requests to the app were not replayed: ${toApp.length} of ${total} (journey.skipped says why), so this verdict rests on the other ${count(journey.steps, 'request')} only.`,
    });
  }
  return warnings;
}

const show = (v: string | number | null, quote = false) =>
  v === null ? '(absent)' : typeof v === 'number' ? String(v) : clip(quote ? JSON.stringify(v) : v);
const clip = (s: string) => (s.length > 100 ? `${s.slice(0, 97)}…` : s);

const what: Record<Finding['kind'], string> = {
  status: 'status',
  redirect: 'redirect',
  cookie: 'cookie',
  'content-type': 'content type',
  header: 'requests left (rate-limit headers)',
  json: 'JSON',
  form: 'form',
  html: 'page text',
  text: 'text',
  body: 'body',
  request: 'request',
  journey: 'journey',
};

const quoted = (f: Finding) => f.kind === 'html' || f.kind === 'text' || f.kind === 'journey';

function finding(f: Finding, result: CheckResult): string[] {
  const fact = f.kind === 'json' || f.kind === 'form' || f.kind === 'redirect' ? ` ${f.key}` : '';
  const row = (label: string, text: string) => `  ${label.padEnd(10)} ${text}`;
  return [
    row(
      'step',
      `${f.step} of ${result.journey.steps}: ${f.request}, answered by ${f.readOn}${f.restarted ? ' (restarted just before)' : ''}`,
    ),
    row(
      'written',
      f.wroteOn
        ? `on ${f.wroteOn}${f.writtenAtStep ? ` at step ${f.writtenAtStep}` : ''}`
        : 'earlier in the journey',
    ),
    row(
      'differs',
      `${what[f.kind]}${fact}: expected ${show(f.expected, quoted(f))}, got ${show(f.got, quoted(f))}`,
    ),
    row('answers', `expected ${clip(f.expectedResponse)}`),
    row('', `got      ${clip(f.gotResponse)}`),
    row('culprit', f.culprit),
    row('fix', f.fix),
    ...f.evidence.slice(0, 4).map((e, i) => row(i === 0 ? 'evidence' : '', e)),
  ];
}

/**
 * @example
 * console.log(formatReport(await check({ app: 'node server.js', har: 'journey.har' })));
 */
export function formatReport(result: CheckResult): string {
  const skipped = result.journey.skipped.length;
  // Results made before `warnings` existed (a saved JSON read back) have none.
  const warnings = (result.warnings ?? []).map((w) => `  ! ${w.message}`);
  const facts = [
    `${count(result.journey.steps, 'step')} on ${result.replicas} replicas`,
    result.restart
      ? `${result.restart.replica} restarted before step ${result.restart.beforeStep}`
      : 'no restart (journey too short)',
    `${count(result.noise.masked, 'noisy value')} masked`,
    ...(skipped ? [`${count(skipped, 'recorded request')} not replayed (docs/check.md)`] : []),
    `${(result.ms / 1000).toFixed(1)} s`,
  ].join(' · ');
  if (result.verdict === 'stateless') {
    return [
      `✓ stateless as far as this journey shows: every step answered alike on ${result.replicas} replicas${result.restart ? ' and after a restart' : ''}`,
      ...warnings,
      `  ${facts}`,
      '  Not seen: state this journey does not reach, WebSocket messages, timing. See docs/check.md.',
    ].join('\n');
  }
  return [
    '✗ stateful: a replica did not see state that another one kept to itself',
    ...warnings,
    '',
    ...result.findings.flatMap((f) => finding(f, result)),
    '',
    `  ${facts}`,
    '  How to read this: docs/check.md',
  ].join('\n');
}
