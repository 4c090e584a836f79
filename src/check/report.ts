/** The terminal report of `unpinned check`: the verdict first, then the one finding, read in ten seconds. */
import type { CheckResult, Finding } from './check.js';

const show = (v: string | number | null, quote = false) =>
  v === null ? '(absent)' : typeof v === 'number' ? String(v) : clip(quote ? JSON.stringify(v) : v);
const clip = (s: string) => (s.length > 100 ? `${s.slice(0, 97)}…` : s);

const what: Record<Finding['kind'], string> = {
  status: 'status',
  redirect: 'redirect',
  cookie: 'cookie',
  'content-type': 'content type',
  header: 'RateLimit-Remaining',
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
  const facts = [
    `${result.journey.steps} steps on ${result.replicas} replicas`,
    result.restart
      ? `${result.restart.replica} restarted before step ${result.restart.beforeStep}`
      : 'no restart (journey too short)',
    `${result.noise.masked} noisy ${result.noise.masked === 1 ? 'value' : 'values'} masked`,
    ...(skipped
      ? [`${skipped} recorded ${skipped === 1 ? 'request' : 'requests'} not replayed (docs/check.md)`]
      : []),
    `${(result.ms / 1000).toFixed(1)} s`,
  ].join(' · ');
  if (result.verdict === 'stateless') {
    return [
      `✓ stateless as far as this journey shows: every step answered alike on ${result.replicas} replicas and after a restart`,
      `  ${facts}`,
      '  Not seen: state this journey does not reach, WebSocket messages, timing. See docs/check.md.',
    ].join('\n');
  }
  return [
    '✗ stateful: a replica did not see state that another one kept to itself',
    '',
    ...result.findings.flatMap((f) => finding(f, result)),
    '',
    `  ${facts}`,
    '  How to read this: docs/check.md',
  ].join('\n');
}
