/**
 * Shared pieces of the differential fuzz tests: how many cases a run makes (a bounded number in
 * `npm test`, many more under `npm run fuzz`), and generators of the tricky bytes HTTP
 * smuggling is made of.
 */
import fc from 'fast-check';

/**
 * Cases per property: `FUZZ_RUNS` (npm run fuzz sets it) times `scale` (a property that opens
 * real sockets per case takes a share), else `fallback` for npm test.
 */
export function fuzzRuns(fallback: number, scale = 1): number {
  const runs = Number(process.env.FUZZ_RUNS);
  return Number.isInteger(runs) && runs > 0 ? Math.max(1, Math.ceil(runs * scale)) : fallback;
}

/** fast-check parameters: the run count, and a seed from `FUZZ_SEED` to replay a failure. */
export function fuzzParams(fallback: number, scale = 1): fc.Parameters<unknown> {
  const seed = Number(process.env.FUZZ_SEED);
  return { numRuns: fuzzRuns(fallback, scale), ...(Number.isInteger(seed) && { seed }) };
}

/** A line ending: almost always CRLF, sometimes what a smuggler sends instead. */
export const lineEnd = fc.oneof(
  { weight: 12, arbitrary: fc.constant('\r\n') },
  { weight: 1, arbitrary: fc.constantFrom('\n', '\r', '\r\r\n', '\n\r') },
);

/** Optional whitespace, including the kinds RFC 9110 does not allow. */
export const ows = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('', ' ') },
  { weight: 1, arbitrary: fc.constantFrom('\t', '  ', ' \t', '\x0b', '\x0c', '\x00', '\xa0') },
);

/** A field value: ordinary text, numbers, and bytes that should never pass unnoticed. */
export const fieldValue = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('x', 'a b', 'keep-alive', 'close', '0', '1', '5', 'chunked', '') },
  { weight: 2, arbitrary: fc.stringMatching(/^[\x20-\x7e]{0,12}$/) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'a\x00b',
      'a\x7fb',
      'a\x01',
      '\xff\xfe',
      'a\rb',
      'a\nb',
      '\r\n x',
      '\n\tfolded',
    ),
  },
);

/** Under `npm run fuzz`, prints what a property saw (how often each answer came up). */
export function reportFuzz(name: string, counts: Record<string, number>): void {
  if (process.env.FUZZ_RUNS) console.log(`fuzz ${name}: ${JSON.stringify(counts)}`);
}
