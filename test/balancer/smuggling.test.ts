/**
 * Request smuggling and malformed framing: answered 400 by the balancer and never forwarded.
 * Raw sockets, because no well-behaved client can send these.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Balancer, createBalancer } from '../../src/balancer/index.js';
import { startBackend, type TestBackend } from '../helpers/backends.js';
import { send } from '../helpers/client.js';
import { exchange } from '../helpers/raw-client.js';

let server: TestBackend;
let lb: Balancer;
let port: number;
beforeAll(async () => {
  server = await startBackend('a');
  lb = createBalancer({ backends: [server.url], limits: { maxHeaderBytes: 4096 } });
  port = (await lb.listen(0, '127.0.0.1')).port;
});
afterAll(async () => {
  await lb.close();
  await server.stop();
});

const cases: [string, string][] = [
  [
    'Content-Length and Transfer-Encoding together (CL.TE)',
    'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n',
  ],
  [
    'Transfer-Encoding and Content-Length together (TE.CL)',
    'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n',
  ],
  [
    'two different Content-Length values',
    'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde',
  ],
  [
    'Transfer-Encoding that does not end in chunked',
    'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n',
  ],
  [
    'an obfuscated Transfer-Encoding',
    'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n',
  ],
  [
    'whitespace before the colon',
    'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n',
  ],
  ['a negative Content-Length', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n'],
  ['a bare LF line ending in the header block', 'GET / HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n'],
  ['HTTP/1.1 without Host', 'GET / HTTP/1.1\r\n\r\n'],
];

describe('request smuggling attempts', () => {
  it.each(cases)('%s: 400, never forwarded', async (_name, raw) => {
    const before = server.received.length;
    const answer = await exchange(port, [raw], { end: true });
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer.toLowerCase()).toContain('x-unpinned-error: unpinned_err_lb_bad_request');
    expect(answer.match(/(^|\r\n)HTTP\/1\.1 \d{3} /g)).toHaveLength(1); // one answer, nothing smuggled through
    expect(server.received.length).toBe(before);
  });

  it('oversized headers: 431, never forwarded', async () => {
    const before = server.received.length;
    const answer = await exchange(
      port,
      [`GET / HTTP/1.1\r\nHost: x\r\nCookie: ${'a'.repeat(8000)}\r\n\r\n`],
      {
        end: true,
      },
    );
    expect(answer).toMatch(/^HTTP\/1\.1 431 /);
    expect(answer).toContain('UNPINNED_ERR_LB_HEADERS_TOO_LARGE');
    expect(server.received.length).toBe(before);
  });

  it('a well-formed request on the same balancer still goes through', async () => {
    const before = server.received.length;
    expect((await send(`http://127.0.0.1:${port}/fine`)).status).toBe(200);
    expect(server.received.length).toBe(before + 1);
  });
});
