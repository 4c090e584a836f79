/**
 * Defects a black-box desync suite found in the balancer (issue "Hardening", section 0), each
 * with the exchange that showed it. Raw sockets, because no well-behaved client sends these;
 * the oracle is what the server received, request by request, and what each client got back.
 */
import { once } from 'node:events';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type Balancer, type BalancerOptions, createBalancer } from '../../src/balancer/index.js';
import { send } from '../helpers/client.js';
import { exchange } from '../helpers/raw-client.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  rawHeaderCount: number;
  body: string;
}

interface App {
  url: string;
  seen: Seen[];
  /** TCP connections the server accepted. */
  connections: number;
}

let lb: Balancer | undefined;
const closers: (() => void)[] = [];
afterEach(async () => {
  await lb?.close();
  lb = undefined;
  for (const close of closers.splice(0)) close();
});

/**
 * An app server that records every request with its whole body. `early` paths are answered at
 * once, before the body is read (as a handler that ignores the body does); Node then discards
 * the body it finds on the connection, exactly as many bytes as the request declared.
 */
async function app(): Promise<App> {
  const state: App = { url: '', seen: [], connections: 0 };
  const server = createHttpServer((req, res) => {
    let body = '';
    req.setEncoding('latin1');
    req.on('data', (c: string) => {
      body += c;
    });
    const record = () =>
      state.seen.push({
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        rawHeaderCount: req.rawHeaders.length / 2,
        body,
      });
    if (req.url!.startsWith('/early')) {
      record();
      res.end(`ran ${req.method} ${req.url}`);
      return;
    }
    req.on('end', () => {
      record();
      res.end(`ran ${req.method} ${req.url}`);
    });
  });
  server.maxHeadersCount = 0; // this server keeps every field, to show what arrived
  server.on('connection', () => state.connections++);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => {
    server.close();
    server.closeAllConnections();
  });
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}

async function balance(url: string, options: Partial<BalancerOptions> = {}): Promise<number> {
  lb = createBalancer({ backends: [url], ...options });
  return (await lb.listen(0, '127.0.0.1')).port;
}

/** The status lines in what a client received (bodies here never contain one). */
const statusLines = (answer: string) => answer.match(/HTTP\/1\.1 \d{3}/g) ?? [];

describe('upgrade requests that carry a body (request smuggling)', () => {
  it('forwards the body whole, so the next client on that server connection is read as sent', async () => {
    const server = await app();
    const port = await balance(server.url);
    // The declared body would have stayed behind in the balancer, and the server, which
    // answers before reading it, would have taken the next 24 bytes on the connection as it.
    const a = await exchange(
      port,
      [
        'GET /early-a HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 24\r\n\r\n',
        'x'.repeat(24),
      ],
      { until: (received) => received.includes('ran GET /early-a') },
    );
    expect(statusLines(a)).toEqual(['HTTP/1.1 200']);
    const b = await send(`http://127.0.0.1:${port}/b`);
    expect(b.status).toBe(200);
    expect(b.text).toBe('ran GET /b');
    expect(server.seen.map((s) => `${s.method} ${s.url}`)).toEqual(['GET /early-a', 'GET /b']);
    // Forwarded as a plain request: the upgrade offer is gone, the length stays.
    expect(server.seen[0]!.headers.upgrade).toBeUndefined();
    expect(server.seen[0]!.headers['content-length']).toBe('24');
  });

  it('relays a POST with an upgrade offer and a body as a POST with its body (curl --http2 -d)', async () => {
    const server = await app();
    const port = await balance(server.url);
    const answer = await exchange(port, [
      'POST /form HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n' +
        'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nContent-Length: 5\r\n\r\nhello',
      'GET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    ]);
    expect(statusLines(answer)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 200']);
    expect(server.seen.map((s) => `${s.method} ${s.url} ${s.body}`)).toEqual([
      'POST /form hello',
      'GET /after ',
    ]);
    // Connection named HTTP2-Settings: a hop-by-hop header, not forwarded.
    expect(server.seen[0]!.headers['http2-settings']).toBeUndefined();
  });

  it('relays a chunked body of an upgrade request whole', async () => {
    const server = await app();
    const port = await balance(server.url);
    const answer = await exchange(
      port,
      [
        'PUT /doc HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: h2c\r\nTransfer-Encoding: chunked\r\n\r\n',
        '5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n',
      ],
      { until: (received) => received.includes('ran PUT /doc') },
    );
    expect(statusLines(answer)).toEqual(['HTTP/1.1 200']);
    expect(server.seen.map((s) => `${s.method} ${s.url} ${s.body}`)).toEqual(['PUT /doc hello world']);
  });

  it('never hands a server connection that declined an upgrade to another request', async () => {
    const server = await app();
    const port = await balance(server.url);
    const declined = await exchange(
      port,
      ['GET /early-ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n'],
      { end: true },
    );
    expect(statusLines(declined)).toEqual(['HTTP/1.1 200']);
    expect((await send(`http://127.0.0.1:${port}/next`)).text).toBe('ran GET /next');
    expect(server.connections).toBe(2);
  });

  it('forwards a bodiless upgrade with the method the client used', async () => {
    const server = await app();
    const port = await balance(server.url);
    await exchange(
      port,
      ['OPTIONS /early-ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: foo\r\n\r\n'],
      {
        end: true,
      },
    );
    expect(server.seen.map((s) => `${s.method} ${s.url}`)).toEqual(['OPTIONS /early-ws']);
  });
});

describe('several Host headers (RFC 9112 §3.2)', () => {
  const cases: [string, string][] = [
    ['a plain GET', 'GET /h HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n'],
    [
      'a POST with a body',
      'POST /h HTTP/1.1\r\nHost: a.example\r\nContent-Length: 2\r\nHost: b.example\r\n\r\nhi',
    ],
    [
      'an upgrade',
      'GET /h HTTP/1.1\r\nHost: a\r\nhost: b\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
    ],
    ['HTTP/1.0', 'GET /h HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n'],
  ];
  it.each(cases)('%s: 400, never forwarded', async (_name, raw) => {
    const server = await app();
    const port = await balance(server.url);
    const answer = await exchange(port, [raw], { end: true });
    expect(statusLines(answer)).toEqual(['HTTP/1.1 400']);
    expect(answer).toContain('UNPINNED_ERR_LB_BAD_REQUEST');
    expect(server.seen).toEqual([]);
  });
});

describe('header fields beyond limits.maxHeaderCount', () => {
  /** A head of exactly `count` fields: Host, filler, then `last` (whole field lines). */
  const head = (method: string, count: number, last: string[]) =>
    `${method} /m HTTP/1.1\r\nHost: x\r\n${Array.from({ length: count - 1 - last.length }, (_, i) => `x-f${i}: v\r\n`).join('')}${last.map((l) => `${l}\r\n`).join('')}\r\n`;
  const close = 'Connection: close';

  it('1,100 fields and a body: 431, never forwarded in part', async () => {
    const server = await app();
    const port = await balance(server.url);
    // Content-Length comes last: a request cut at Node's 1,000th field loses it, and its body.
    const answer = await exchange(port, [`${head('POST', 1100, ['Content-Length: 2'])}hi`]);
    expect(statusLines(answer)).toEqual(['HTTP/1.1 431']);
    expect(answer).toContain('UNPINNED_ERR_LB_HEADERS_TOO_LARGE');
    expect(server.seen).toEqual([]);
  });

  it('at the limit everything is forwarded; one more is 431, on both client-side readers', async () => {
    const server = await app();
    const port = await balance(server.url, { limits: { maxHeaderCount: 20 } });
    // A bodiless GET is read by the client side's own reader, a POST with a body by Node's.
    const get = await exchange(port, [head('GET', 20, [close])]);
    const post = await exchange(port, [`${head('POST', 20, [close, 'Content-Length: 2'])}hi`]);
    expect([statusLines(get), statusLines(post)]).toEqual([['HTTP/1.1 200'], ['HTTP/1.1 200']]);
    expect(server.seen.map((s) => `${s.method} ${s.body} ${s.headers['x-f16']}`)).toEqual([
      'GET  v',
      'POST hi v',
    ]);
    for (const raw of [head('GET', 21, [close]), `${head('POST', 21, [close, 'Content-Length: 2'])}hi`]) {
      expect(statusLines(await exchange(port, [raw]))).toEqual(['HTTP/1.1 431']);
    }
    expect(server.seen).toHaveLength(2);
  });
});

describe('requests that ran are answered; only what did not run is refused', () => {
  const cases: [string, string, string][] = [
    [
      'a POST with Connection: close, then pipelined bytes',
      'POST /once HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhiGET /never HTTP/1.1\r\nHost: x\r\n\r\n',
      'POST /once hi',
    ],
    [
      'an HTTP/1.0 POST, then pipelined bytes',
      'POST /once HTTP/1.0\r\nHost: x\r\nContent-Length: 2\r\n\r\nhiGET /never HTTP/1.1\r\nHost: x\r\n\r\n',
      'POST /once hi',
    ],
    [
      'an HTTP/1.0 POST with Transfer-Encoding, then pipelined bytes',
      'POST /once HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\nGET /never HTTP/1.1\r\nHost: x\r\n\r\n',
      'POST /once hi',
    ],
    [
      // RFC 9112 §6.1: faulty framing; the connection closes after the answer, keep-alive or not.
      'an HTTP/1.0 keep-alive POST with Transfer-Encoding, then a pipelined request',
      'POST /once HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\nGET /never HTTP/1.1\r\nHost: x\r\n\r\n',
      'POST /once hi',
    ],
  ];
  it.each(cases)('%s: one answer, run once', async (_name, raw, ran) => {
    const server = await app();
    const port = await balance(server.url);
    const answer = await exchange(port, [raw]);
    expect(statusLines(answer)).toEqual(['HTTP/1.1 200']);
    expect(answer).toContain('ran POST /once');
    expect(server.seen.map((s) => `${s.method} ${s.url} ${s.body}`)).toEqual([ran]);
  });

  it('a keep-alive request, then malformed bytes: the request is answered, then 400', async () => {
    const server = await app();
    const port = await balance(server.url);
    const answer = await exchange(port, [
      'POST /once HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi' +
        'POST /bad HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    ]);
    expect(statusLines(answer)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 400']);
    expect(answer.indexOf('ran POST /once')).toBeLessThan(answer.indexOf('UNPINNED_ERR_LB_BAD_REQUEST'));
    expect(server.seen.map((s) => s.url)).toEqual(['/once']);
  });
});

describe('request bodies Node can only refuse once the request was read', () => {
  it.each([
    ['xchunked', 400, 'UNPINNED_ERR_LB_BAD_REQUEST'],
    ['chunked, xchunked', 400, 'UNPINNED_ERR_LB_BAD_REQUEST'],
    ['gzip, chunked', 501, 'UNPINNED_ERR_LB_UNSUPPORTED_CODING'],
  ] as const)('Transfer-Encoding: %s: %i, the head never reaches a server', async (coding, status, code) => {
    const server = await app();
    const port = await balance(server.url);
    // An "early" handler acts on the head alone: had it been forwarded, it would have run.
    const answer = await exchange(port, [
      `POST /early HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: ${coding}\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
    ]);
    expect(statusLines(answer)).toEqual([`HTTP/1.1 ${status}`]);
    expect(answer).toContain(code);
    expect(server.seen).toEqual([]);
  });

  it('a chunked body that turns malformed mid-way: the upload stops, the client gets 400', async () => {
    const server = await app();
    const port = await balance(server.url);
    const answer = await exchange(port, [
      'POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n',
      'zz\r\nnot a chunk\r\n',
    ]);
    expect(statusLines(answer)).toEqual(['HTTP/1.1 400']);
    expect(answer).toContain('UNPINNED_ERR_LB_BAD_REQUEST');
    expect(server.seen).toEqual([]);
  });

  it('pipelined after a good request: the good one is answered first, then the 400', async () => {
    const server = await app();
    const port = await balance(server.url);
    const answer = await exchange(port, [
      'POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi' +
        'POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n',
    ]);
    expect(statusLines(answer)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 400']);
    expect(answer.indexOf('ran POST /first')).toBeLessThan(answer.indexOf('HTTP/1.1 400'));
    expect(server.seen.map((s) => s.url)).toEqual(['/first']);
  });
});

describe('a response head with bare LF line endings', () => {
  const heads: [string, string][] = [
    ['every line', 'HTTP/1.1 200 OK\nContent-Length: 2\n\nok'],
    ['the status line', 'HTTP/1.1 200 OK\nContent-Length: 2\r\n\r\nok'],
    ['one header line', 'HTTP/1.1 200 OK\r\nContent-Length: 2\nX-A: b\r\n\r\nok'],
    ['the empty line', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\nok'],
    ['a bare CR', 'HTTP/1.1 200 OK\rContent-Length: 2\r\r\nok'],
  ];
  it.each(heads)(
    'in %s: refused at once as llhttp does (502), not left to the headers timeout',
    async (_n, bytes) => {
      const server = createServer((socket: Socket) => {
        socket.on('error', () => {});
        socket.once('data', () => socket.write(bytes));
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      closers.push(() => server.close());
      // With a headers timeout this long, a head the parser waits on would answer 504 here.
      const port = await balance(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, {
        timeouts: { headersMs: 5_000 },
      });
      const reply = await send(`http://127.0.0.1:${port}/`);
      expect(reply.status).toBe(502);
      expect(reply.headers['x-unpinned-error']).toBe('UNPINNED_ERR_LB_BACKEND_FAILED');
    },
  );
});
