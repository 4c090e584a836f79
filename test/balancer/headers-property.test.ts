/**
 * Property-based checks of the code that takes client input: the header rewriting and the
 * cookie handling must hold for any header list a client can send, not just the examples.
 */
import type { IncomingMessage } from 'node:http';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildUpstreamHeaders, TrustedProxies } from '../../src/balancer/headers.js';
import { readCookie } from '../../src/balancer/strategies/sticky-cookie.js';

const hopByHop = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
];
const tokenChar = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-_'.split(''));
const token = fc.string({ unit: tokenChar, minLength: 1, maxLength: 12 });
const name = fc.oneof(
  token,
  fc.constantFrom(
    ...hopByHop,
    'x-forwarded-for',
    'x-forwarded-proto',
    'x-forwarded-host',
    'forwarded',
    'cookie',
    'host',
  ),
  token.map((t) => t.toUpperCase()),
);
const value = fc.string({ unit: fc.constantFrom(...' abc,=;.-1:'.split('')), maxLength: 20 });

function fakeRequest(raw: string[], peer: string): IncomingMessage {
  return { rawHeaders: raw, socket: { remoteAddress: peer } } as unknown as IncomingMessage;
}

describe('buildUpstreamHeaders (property)', () => {
  it('never forwards a hop-by-hop header or one named in Connection, and keeps the others in order', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(name, value), { maxLength: 20 }), (pairs) => {
        const raw = pairs.flat();
        const { headers } = buildUpstreamHeaders(fakeRequest(raw, '192.0.2.1'), {
          trusted: new TrustedProxies([]),
          forwardedHeaders: true,
          proto: 'http',
          stripCookie: undefined,
        });
        const listed = new Set(
          pairs
            .filter(([n]) => n.toLowerCase() === 'connection')
            .flatMap(([, v]) => v.split(',').map((t) => t.trim().toLowerCase()))
            .filter((t) => t && !['close', 'keep-alive', 'upgrade'].includes(t)),
        );
        const out: [string, string][] = [];
        for (let i = 0; i < headers.length; i += 2) out.push([headers[i]!, headers[i + 1]!]);
        for (const [n] of out) {
          expect(hopByHop).not.toContain(n);
          if (!n.startsWith('x-forwarded-')) expect(listed.has(n)).toBe(false);
        }
        // Exactly one of each X-Forwarded header from an untrusted peer, with the peer's address.
        expect(out.filter(([n]) => n === 'x-forwarded-for')).toEqual([['x-forwarded-for', '192.0.2.1']]);
        expect(out.filter(([n]) => n === 'forwarded')).toEqual([]);
        const expected = pairs
          .map(([n, v]) => [n.toLowerCase(), v] as [string, string])
          .filter(
            ([n]) =>
              !hopByHop.includes(n) && !listed.has(n) && !n.startsWith('x-forwarded-') && n !== 'forwarded',
          );
        expect(out.filter(([n]) => !n.startsWith('x-forwarded-'))).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('strips exactly the sticky cookie and keeps every other cookie', () => {
    const pair = fc.tuple(token, fc.string({ unit: tokenChar, maxLength: 8 }));
    fc.assert(
      fc.property(
        fc.array(pair, { maxLength: 8 }),
        fc.string({ unit: tokenChar, maxLength: 8 }),
        (cookies, srv) => {
          const others = cookies.filter(([n]) => n !== 'SRV');
          const header = [...others.map(([n, v]) => `${n}=${v}`), `SRV=${srv}`].join('; ');
          expect(readCookie(header, 'SRV')).toBe(srv);
          const { headers } = buildUpstreamHeaders(fakeRequest(['Cookie', header], '127.0.0.1'), {
            trusted: new TrustedProxies([]),
            forwardedHeaders: false,
            proto: 'http',
            stripCookie: 'SRV',
          });
          const forwarded = headers[1];
          if (others.length === 0) expect(headers).toEqual([]);
          else expect(forwarded).toBe(others.map(([n, v]) => `${n}=${v}`).join('; '));
        },
      ),
      { numRuns: 300 },
    );
  });
});
