/**
 * Noise every app has, masked before anything is compared: the serving
 * replica's own identity (its name, pid, port and directories, which the check
 * knows), and values that change with the clock or are random by construction
 * (dates and times, epoch timestamps, durations, UUIDs, long hex and token strings). What is
 * left to vary is learned from the single-replica runs (noise.ts). Masking a
 * random token never hides server-local state: state shows in what a replica
 * does with a value, not in the value's spelling.
 */

export interface Identity {
  name: string;
  pid: number | undefined;
  port: number;
  /** The replica's private directories (working copy, TMPDIR, HOME). */
  paths: string[];
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const day = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*';
const month = '(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*';

const patterns: [RegExp, string][] = [
  // ISO 8601 / RFC 3339 date-times, with or without seconds, fraction and zone.
  [/\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?/g, '⟨time⟩'],
  // RFC 9110 §5.6.7 HTTP-date (IMF-fixdate) and JavaScript's Date#toString / toUTCString.
  [
    new RegExp(`\\b${day},? \\d{1,2}[ -]${month}[ -]\\d{2,4} \\d{2}:\\d{2}:\\d{2}(?: GMT| UTC)?`, 'g'),
    '⟨time⟩',
  ],
  [
    new RegExp(
      `\\b${day} ${month} \\d{1,2} \\d{4} \\d{2}:\\d{2}:\\d{2}(?: GMT[+-]\\d{4})?(?: \\([^)]*\\))?`,
      'g',
    ),
    '⟨time⟩',
  ],
  // toLocaleString in common locales: 5/1/2024, 10:22:33 AM; 01.05.2024, 10:22:33.
  [/\b\d{1,2}[/.]\d{1,2}[/.]\d{2,4},? \d{1,2}:\d{2}(?::\d{2})?(?: ?[AaPp]\.?[Mm]\.?)?/g, '⟨time⟩'],
  [/\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?(?: ?[AaPp][Mm])?\b/g, '⟨time⟩'],
  [/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '⟨uuid⟩'],
  [/(?<![\w.])\d{10}(?:\d{3})?(?:\.\d+)?(?![\w.])/g, '⟨epoch⟩'],
  [/\b[0-9a-f]{16,}\b/gi, '⟨hex⟩'],
  // Durations counted down from a moment ("retry in 59 seconds", "expires in 1 hour"): a run
  // that restarts a replica is slower than one that does not, and reads a second or two less.
  [
    /(?<![\w.])\d+(?:\.\d+)?(?: ?(?:ms|milliseconds?|secs?|seconds?|mins?|minutes?|hrs?|hours?|days?)|s)\b/g,
    '⟨duration⟩',
  ],
];

// Random-looking tokens: long, with letters and digits mixed (base64, base64url, nanoid, JWT parts).
// '/' is left out so that URL paths with ids in them stay readable.
const token = /[A-Za-z0-9_\-+]{16,}={0,2}/g;
// Decided on the shape of the value, not on its luck: a random base64url string of 16
// characters has no digit one time in 15, but is practically never all one case.
const isRandom = (s: string) => {
  const letters = s.match(/[A-Za-z]/g)?.length ?? 0;
  return letters >= 2 && (/\d/.test(s) || (/[a-z]/.test(s) && /[A-Z]/.test(s)));
};

/**
 * A value random by construction: a UUID, a long hex string or a long mixed token.
 *
 * @example
 * looksRandom('1ae22bdf-5a1c-4c8e-9d0e-3f2b1c0a9e77'); // true
 * looksRandom('orders'); // false
 */
export function looksRandom(value: string): boolean {
  return (
    /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value) ||
    /^[0-9a-f]{16,}$/i.test(value) ||
    (/^[A-Za-z0-9_\-+]{16,}={0,2}$/.test(value) && isRandom(value))
  );
}

/** Epoch numbers count only when they are within ten years of now (an id of ten digits is not a time). */
function isEpoch(text: string): boolean {
  const n = Number(text);
  const ms = text.split('.')[0]!.length === 13 ? n : n * 1000;
  return Math.abs(ms - Date.now()) < 10 * 365 * 24 * 3600 * 1000;
}

/**
 * A function that masks the noise of responses from one replica.
 *
 * @example
 * const mask = normalizer({ name: 'replica-2', pid: 4242, port: 40111, paths: ['/tmp/c/replica-2'] });
 * mask('served by replica-2 (pid 4242) at 2025-01-02T03:04:05Z'); // 'served by ⟨replica⟩ (pid ⟨pid⟩) at ⟨time⟩'
 */
export function normalizer(identity: Identity): (text: string) => string {
  const own: [RegExp, string][] = [];
  for (const path of [...identity.paths].sort((a, b) => b.length - a.length)) {
    own.push([new RegExp(escapeRegExp(path), 'g'), '⟨dir⟩']);
  }
  own.push([new RegExp(`(?<![\\w-])${escapeRegExp(identity.name)}(?![\\w-])`, 'g'), '⟨replica⟩']);
  if (identity.pid !== undefined && identity.pid >= 100) {
    own.push([new RegExp(`(?<!\\d)${identity.pid}(?!\\d)`, 'g'), '⟨pid⟩']);
  }
  own.push([new RegExp(`(?<!\\d)${identity.port}(?!\\d)`, 'g'), '⟨port⟩']);
  return (text) => {
    let out = text;
    for (const [pattern, mask] of own) out = out.replace(pattern, mask);
    for (const [pattern, mask] of patterns) {
      out = out.replace(pattern, (m) => (mask !== '⟨epoch⟩' || isEpoch(m) ? mask : m));
    }
    return out.replace(token, (m) => (isRandom(m) ? '⟨token⟩' : m));
  };
}
