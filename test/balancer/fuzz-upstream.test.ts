/**
 * Differential fuzzing of the balancer's upstream response parser (upstream/parser.ts) against
 * llhttp in response mode, as Node's HTTP client runs it (test/helpers/llhttp.ts). Responses
 * from valid ones to every framing trick: 1xx before the answer, 204/304 and HEAD with stray
 * bodies, Content-Length and Transfer-Encoding together, short and long lengths, bytes after
 * the response, two responses to one request, bad chunk framing, obs-fold, bare CR/LF. Each is
 * fed in random pieces, with or without the server closing after it.
 *
 * Whenever our parser reads a response, llhttp reads the same one: status, reason, fields,
 * body, and the byte where it ends (so the next response on the connection starts at the same
 * place for both); it never keeps a connection alive that llhttp would not. Our parser may be
 * stricter (refuse what llhttp accepts: a 502 and a closed connection, never a desync); those
 * cases are counted, and must stay a minority of the valid ones.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ResponseParser, type ResponseSink } from '../../src/balancer/upstream/parser.js';
import { fieldValue, fuzzParams, lineEnd, ows, reportFuzz } from '../helpers/fuzz.js';
import { llhttpParse } from '../helpers/llhttp.js';

interface Ours {
  error: string | undefined;
  status: number;
  reason: string;
  headers: string[];
  keepAlive: boolean;
  body: string;
  ended: boolean;
  /** Offset just after the response, when it ended. */
  end: number;
}

function ours(bytes: Buffer, cuts: number[], head: boolean, eof: boolean): Ours {
  const out: Ours = {
    error: undefined,
    status: 0,
    reason: '',
    headers: [],
    keepAlive: false,
    body: '',
    ended: false,
    end: -1,
  };
  let position = 0;
  const sink: ResponseSink = {
    onHead(status, reason, headers, keepAlive) {
      Object.assign(out, { status, reason, headers, keepAlive });
    },
    onBody(chunk) {
      out.body += chunk.toString('latin1');
    },
    onEnd() {
      out.ended = true;
    },
  };
  const parser = new ResponseParser(sink, 4096);
  parser.expect(head, false);
  const points = [...new Set(cuts.filter((c) => c > 0 && c < bytes.length))].sort((a, b) => a - b);
  try {
    for (const cut of [...points, bytes.length]) {
      const used = parser.execute(bytes.subarray(position, cut));
      if (out.ended) {
        out.end = position + used;
        return out;
      }
      position = cut;
    }
    if (eof && parser.finishOnClose()) out.end = bytes.length;
  } catch (err) {
    out.error = (err as Error).message;
  }
  return out;
}

const statusLine = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.constantFrom(
      'HTTP/1.1 200 OK',
      'HTTP/1.1 404 Not Found',
      'HTTP/1.0 200 OK',
      'HTTP/1.1 302 Found',
    ),
  },
  {
    weight: 3,
    arbitrary: fc.constantFrom('HTTP/1.1 204 No Content', 'HTTP/1.1 304 Not Modified', 'HTTP/1.1 205 Reset'),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'HTTP/1.1 200',
      'HTTP/1.1 200 ',
      'HTTP/1.1 999 Odd',
      'HTTP/1.1 099 Low',
      'HTTP/2 200 OK',
      'HTTP/1.1  200 OK',
      'HTTP/1.2 200 OK',
      'HTTP/1.1 20 OK',
      'http/1.1 200 OK',
      'HTTP/1.1 200 O\x01K',
      'HTTP/1.1 101 Switching Protocols',
    ),
  },
);
const interim = fc.constantFrom(
  '',
  '',
  '',
  'HTTP/1.1 100 Continue\r\n\r\n',
  'HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n',
  'HTTP/1.1 102 Processing\r\n\r\n',
);
const length = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 12 }).map(String) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '5, 5',
      '5,6',
      '+5',
      '-1',
      ' 5',
      '05',
      '5 ',
      '0x5',
      '',
      '99999999999999999999',
    ),
  },
);
const frameField = fc.oneof(
  length.map((n) => `Content-Length: ${n}`),
  fc
    .constantFrom('chunked', 'Chunked', 'gzip, chunked', 'chunked, gzip', 'identity', ' chunked', 'chunked ')
    .map((te) => `Transfer-Encoding: ${te}`),
  fc.constantFrom(
    'Connection: close',
    'Connection: keep-alive',
    'Keep-Alive: timeout=5',
    'Connection: Close',
  ),
);
const otherField = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom('Content-Type: text/plain', 'Set-Cookie: sid=a; HttpOnly', 'Date: x'),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.constantFrom('X-A', 'Content-Length', 'Transfer-Encoding', 'X A', '', 'X\x00'),
        ows,
        fieldValue,
      )
      .map(([n, w, v]) => `${n}:${w}${v}`),
  },
);
const fields = fc
  .tuple(
    fc.array(fc.oneof(frameField, otherField), { maxLength: 6 }),
    fc.array(lineEnd, { minLength: 6, maxLength: 6 }),
  )
  .map(([list, ends]) => list.map((f, i) => `${f}${ends[i]}`).join(''));
/** A body as some framing wants it, or not quite. */
const body = fc.oneof(
  fc.stringMatching(/^[a-z]{0,14}$/),
  fc
    .array(fc.stringMatching(/^[a-z]{1,6}$/), { maxLength: 3 })
    .map((chunks) => `${chunks.map((c) => `${c.length.toString(16)}\r\n${c}\r\n`).join('')}0\r\n\r\n`),
  fc.constantFrom(
    '5\r\nhello\r\n0\r\nTrailer: x\r\n\r\n',
    '5;ext=1\r\nhello\r\n0\r\n\r\n',
    '5\r\nhelloXX0\r\n\r\n',
    '0x5\r\nhello\r\n0\r\n\r\n',
    '-1\r\nx\r\n0\r\n\r\n',
    '5 \r\nhello\r\n0\r\n\r\n',
    '5\nhello\n0\n\n',
    'fffffffffffffff\r\n',
    '3\r\nabc\r\n',
  ),
);
const after = fc.constantFrom('', '', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nno', 'junk', '\r\n');

const response = fc
  .tuple(interim, statusLine, lineEnd, fields, body, after)
  .map(([pre, line, eol, f, b, rest]) => `${pre}${line}${eol}${f}\r\n${b}${rest}`);

/** Our parser sends one plain value for repeated identical lengths: llhttp's fields, the same way. */
function normalized(raw: string[]): string[] {
  const out: string[] = [];
  let seenLength = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.toLowerCase() === 'content-length') {
      if (seenLength) continue;
      seenLength = true;
      out.push(name, String(Number(raw[i + 1]!.split(',')[0]!.trim())));
    } else out.push(name, raw[i + 1]!);
  }
  return out;
}

/**
 * The one deliberate difference: a server's repeated identical Content-Length (RFC 9110 §8.6
 * lets a recipient take it) is read as one length and sent on as one plain value, which llhttp
 * then reads the same way; llhttp itself refuses the repetition. The oracle reads the response
 * as it leaves the balancer. Differing values stay an error for both.
 */
function repeatedLengthsAsOne(bytes: Buffer): Buffer {
  let text = bytes.toString('latin1');
  // The heads of interim responses (no body), then the final one.
  for (let pos = 0; ; ) {
    const headEnd = text.indexOf('\r\n\r\n', pos);
    if (headEnd < 0) break;
    const head = oneLength(text.slice(pos, headEnd));
    text = text.slice(0, pos) + head + text.slice(headEnd);
    if (!/^HTTP\/1\.[01] 1\d\d/.test(head)) break;
    pos = pos + head.length + 4;
  }
  return Buffer.from(text, 'latin1');
}

function oneLength(head: string): string {
  const lines = head.split('\r\n');
  const values: string[] = [];
  let first = -1;
  const kept = lines.filter((line, i) => {
    const m = /^content-length:[ \t]*(.*?)[ \t]*$/i.exec(line);
    if (!m) return true;
    values.push(...m[1]!.split(',').map((v) => v.trim()));
    if (first >= 0) return false;
    first = i;
    return true;
  });
  if (values.length < 2 || !values.every((v) => /^\d+$/.test(v) && Number(v) === Number(values[0])))
    return head;
  kept[kept.indexOf(lines[first]!)] = `Content-Length: ${Number(values[0])}`;
  return kept.join('\r\n');
}

type Outcome = 'same' | 'stricter' | 'bothRefuse' | 'incomplete';

/** Compares our reading of one response with llhttp's; throws on any difference. */
function compare(text: string, head: boolean, eof: boolean, cuts: number[]): Outcome {
  const bytes = Buffer.from(text, 'latin1');
  const mine = ours(bytes, cuts, head, eof);
  const asSent = repeatedLengthsAsOne(bytes);
  const ll = llhttpParse(asSent, 'response', { head, eof });
  // Where the oracle's bytes are shorter (one length instead of a list), shift back.
  const shift = bytes.length - asSent.length;
  const finalIndex = ll.messages.findIndex((m) => m.status >= 200 || m.status < 100);
  const final = finalIndex >= 0 ? ll.messages[finalIndex] : undefined;
  // llhttp read a whole final response before any error: its reading, for comparison.
  const llRead = final?.complete === true && ll.messages.slice(0, finalIndex).every((m) => m.complete);
  if (mine.error !== undefined) return llRead ? 'stricter' : 'bothRefuse';
  if (!mine.ended) {
    // Not a complete response for us (the connection then fails): nor for llhttp.
    expect(llRead).toBe(false);
    return 'incomplete';
  }
  expect(llRead).toBe(true);
  expect({
    status: mine.status,
    reason: mine.reason,
    headers: mine.headers,
    body: mine.body,
    end: mine.end,
  }).toEqual({
    status: final!.status,
    reason: final!.reason,
    headers: normalized(final!.rawHeaders),
    body: final!.body,
    end: final!.end + shift,
  });
  // Reuse only a connection that llhttp would keep alive too.
  if (mine.keepAlive) expect(final!.keepAlive).toBe(true);
  return 'same';
}

describe('the upstream response parser against llhttp', () => {
  /** Differences the fuzzer found, each fixed in the parser; kept as fixed cases. */
  const found: [string, string, boolean][] = [
    ['an answer to HEAD without framing is not kept alive', 'HTTP/1.1 200 OK\r\n\r\n', true],
    [
      'an answer to HEAD with a coding that is not chunked is not kept alive',
      'HTTP/1.1 200\r\nTransfer-Encoding: identity\r\n\r\n',
      true,
    ],
    [
      'whitespace after a chunk size',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n',
      false,
    ],
    [
      'whitespace in a chunk extension',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5; a=b\r\nhello\r\n0\r\n\r\n',
      false,
    ],
    [
      'an empty Transfer-Encoding line after chunked',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding:\r\n\r\n0\r\n\r\n',
      false,
    ],
    ['a no-break space before a length', 'HTTP/1.1 200 OK\r\nContent-Length:\xa00\r\n\r\n', false],
  ];
  it.each(found)('%s', (_name, text, head) => {
    for (const eof of [false, true]) compare(text, head, eof, []);
  });

  it('reads each response as llhttp reads it, or refuses it', () => {
    const seen: Record<Outcome, number> = { same: 0, stricter: 0, bothRefuse: 0, incomplete: 0 };
    fc.assert(
      fc.property(
        response,
        fc.boolean(),
        fc.boolean(),
        fc.array(fc.integer({ min: 1, max: 200 }), { maxLength: 5 }),
        (text, head, eof, cuts) => {
          seen[compare(text, head, eof, cuts)]++;
        },
      ),
      fuzzParams(3000),
    );
    reportFuzz('upstream parser', seen);
    const valid = seen.same + seen.stricter;
    expect(seen.same).toBeGreaterThan(0.3 * (valid + seen.bothRefuse + seen.incomplete));
    expect(seen.stricter).toBeLessThan(0.25 * valid);
  });
});
