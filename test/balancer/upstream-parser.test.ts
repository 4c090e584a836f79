/**
 * The upstream response parser on its own: framing (Content-Length, chunked, until close, no
 * body), interim responses, keep-alive, and the strict refusals that keep a proxy from reading
 * one response two ways. Every valid response is also fed split at random points, which must not
 * change what comes out.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UpstreamError } from '../../src/balancer/upstream/errors.js';
import { ResponseParser, type ResponseSink } from '../../src/balancer/upstream/parser.js';

interface Parsed {
  status: number;
  reason: string;
  headers: string[];
  keepAlive: boolean;
  hintMs: number;
  body: string;
  lastFlags: boolean[];
  ended: boolean;
  /** Bytes left unparsed after the response ended. */
  rest: number;
}

function parse(
  wire: string,
  pieces: number[] = [],
  opts: { head?: boolean; upgrade?: boolean } = {},
): Parsed {
  const out: Parsed = {
    status: 0,
    reason: '',
    headers: [],
    keepAlive: false,
    hintMs: 0,
    body: '',
    lastFlags: [],
    ended: false,
    rest: 0,
  };
  const sink: ResponseSink = {
    onHead(status, reason, headers, keepAlive, hintMs) {
      Object.assign(out, { status, reason, headers, keepAlive, hintMs });
    },
    onBody(chunk, last) {
      out.body += chunk.toString('latin1');
      out.lastFlags.push(last);
    },
    onEnd() {
      out.ended = true;
    },
  };
  const parser = new ResponseParser(sink, 1024);
  parser.expect(opts.head ?? false, opts.upgrade ?? false);
  const bytes = Buffer.from(wire, 'latin1');
  const cuts = [...new Set(pieces.filter((p) => p > 0 && p < bytes.length))].sort((a, b) => a - b);
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    const piece = bytes.subarray(from, cut);
    const used = parser.execute(piece);
    if (used < piece.length) {
      out.rest += piece.length - used;
      out.rest += bytes.length - cut;
      break;
    }
    from = cut;
  }
  if (!out.ended) parser.finishOnClose();
  return out;
}

const valid: Record<string, { wire: string; body: string; keepAlive: boolean; head?: boolean }> = {
  'content-length': {
    wire: 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world',
    body: 'hello world',
    keepAlive: true,
  },
  chunked: {
    wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n',
    body: 'hello world',
    keepAlive: true,
  },
  'until close': {
    wire: 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nstreamed until the end',
    body: 'streamed until the end',
    keepAlive: false,
  },
  'interim 100 and 103, then 200': {
    wire: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
    body: 'ok',
    keepAlive: true,
  },
  '204 ignores a length': {
    wire: 'HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n',
    body: '',
    keepAlive: true,
  },
  '304': { wire: 'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\n', body: '', keepAlive: true },
  'HEAD has no body': {
    wire: 'HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n',
    body: '',
    keepAlive: true,
    head: true,
  },
  'Connection: close': {
    wire: 'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok',
    body: 'ok',
    keepAlive: false,
  },
  'HTTP/1.0': { wire: 'HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok', body: 'ok', keepAlive: false },
  'HTTP/1.0 with Transfer-Encoding is not reused': {
    wire: 'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n',
    body: 'ok',
    keepAlive: false,
  },
  'HTTP/1.0 keep-alive': {
    wire: 'HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok',
    body: 'ok',
    keepAlive: true,
  },
  'empty reason, repeated identical lengths': {
    wire: 'HTTP/1.1 200 \r\nContent-Length: 2, 2\r\n\r\nok',
    body: 'ok',
    keepAlive: true,
  },
};

describe('response parser', () => {
  it.each(Object.entries(valid))('%s', (_name, c) => {
    const r = parse(c.wire, [], { head: c.head });
    expect(r.ended).toBe(true);
    expect(r.body).toBe(c.body);
    expect(r.keepAlive).toBe(c.keepAlive);
    expect(r.rest).toBe(0);
  });

  it('gives the same result however the bytes are split', () => {
    for (const c of Object.values(valid)) {
      const whole = parse(c.wire, [], { head: c.head });
      fc.assert(
        fc.property(fc.array(fc.integer({ min: 1, max: c.wire.length - 1 }), { maxLength: 8 }), (cuts) => {
          const split = parse(c.wire, cuts, { head: c.head });
          expect({ ...split, lastFlags: [] }).toEqual({ ...whole, lastFlags: [] });
        }),
        { numRuns: 200 },
      );
    }
  });

  it('keeps header names as sent and values without surrounding whitespace', () => {
    const r = parse(
      'HTTP/1.1 201 Created\r\nX-Thing:  a b \t\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 0\r\n\r\n',
    );
    expect(r.status).toBe(201);
    expect(r.reason).toBe('Created');
    expect(r.headers).toEqual([
      'X-Thing',
      'a b',
      'Set-Cookie',
      'a=1',
      'Set-Cookie',
      'b=2',
      'Content-Length',
      '0',
    ]);
  });

  it('sends repeated identical lengths on as one plain Content-Length', () => {
    const r = parse('HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\nX-A: 1\r\ncontent-length: 2\r\n\r\nok');
    expect(r.headers).toEqual(['Content-Length', '2', 'X-A', '1']);
    expect(r.body).toBe('ok');
  });

  it('marks the chunk that completes a Content-Length body as the last one', () => {
    const r = parse('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789', [45, 48]);
    expect(r.body).toBe('0123456789');
    expect(r.lastFlags.at(-1)).toBe(true);
    expect(r.lastFlags.slice(0, -1).every((f) => !f)).toBe(true);
  });

  it('reads the Keep-Alive timeout hint', () => {
    expect(
      parse('HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5, max=100\r\nContent-Length: 0\r\n\r\n').hintMs,
    ).toBe(5000);
  });

  it('stops at the end of the response and reports the bytes after it', () => {
    const r = parse('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n');
    expect(r.body).toBe('ok');
    expect(r.rest).toBe(17);
  });

  it('stops at a 101 when the request asked for an upgrade, leaving the rest', () => {
    const r = parse('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x02hi', [], {
      upgrade: true,
    });
    expect(r.status).toBe(101);
    expect(r.rest).toBe(4);
  });

  const refused: Record<string, string> = {
    'both Transfer-Encoding and Content-Length':
      'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    'conflicting Content-Length': 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
    'a Content-Length list that disagrees': 'HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello!',
    'a signed Content-Length': 'HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello',
    'obs-fold': 'HTTP/1.1 200 OK\r\nX-A: one\r\n two\r\nContent-Length: 0\r\n\r\n',
    'whitespace before the colon': 'HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n',
    'a bare LF': 'HTTP/1.1 200 OK\r\nX-A: 1\nContent-Length: 0\r\n\r\n',
    'a bare CR in a value': 'HTTP/1.1 200 OK\r\nX-A: 1\r2\r\nContent-Length: 0\r\n\r\n',
    'a NUL in a value': 'HTTP/1.1 200 OK\r\nX-A: 1\x002\r\nContent-Length: 0\r\n\r\n',
    'a line without a name': 'HTTP/1.1 200 OK\r\n: x\r\n\r\n',
    'a bad status line': 'HTTP/2 200 OK\r\nContent-Length: 0\r\n\r\n',
    'a two-digit status': 'HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n',
    'a status below 100 (not an interim response)':
      'HTTP/1.1 099 X\r\ncontent-length: 39\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nbad',
    'a bad chunk size': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n',
    'a chunk size too large to be real':
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n',
    'chunk data longer than its size':
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n',
    'a 101 nobody asked for': 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n',
    'a head over the limit': `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(1100)}\r\nContent-Length: 0\r\n\r\n`,
    'a head over the limit that never ends': `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(1100)}`,
  };

  it.each(Object.entries(refused))('refuses %s', (_name, wire) => {
    for (const cuts of [[], [20], [7, 40, 41]]) {
      let error: unknown;
      try {
        parse(wire, cuts);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(UpstreamError);
      expect((error as UpstreamError).kind).toBe('bad-response');
    }
  });
});
