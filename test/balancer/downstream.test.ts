/**
 * The client side's own request reader (src/balancer/downstream.ts): plain requests are served
 * without Node's HTTP server, anything else hands the connection to it mid-stream, and what the
 * client sees (order, framing, keep-alive, timeouts) is what a client of Node's server would see.
 * Raw sockets, to control exactly which bytes arrive when.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { connect, createServer, type Server, type Socket } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Balancer, createBalancer } from '../../src/balancer/index.js';
import { startBackend, type TestBackend } from '../helpers/backends.js';
import { send } from '../helpers/client.js';
import { exchange } from '../helpers/raw-client.js';
import { waitFor } from '../helpers/wait-for.js';

interface Parsed {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Splits what the balancer wrote into responses: a reader of its own (not the code under test),
 * framing by HEAD/204/304, chunked, Content-Length, else until close.
 */
function parseResponses(raw: string, headRequests: boolean[]): Parsed[] {
  const out: Parsed[] = [];
  let rest = raw;
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) throw new Error(`incomplete head: ${JSON.stringify(rest.slice(0, 80))}`);
    const [statusLine, ...lines] = rest.slice(0, end).split('\r\n');
    const status = Number(statusLine!.split(' ')[1]);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    rest = rest.slice(end + 4);
    let body = '';
    if (headRequests[out.length] || status === 204 || status === 304) body = '';
    else if (headers['transfer-encoding'] === 'chunked') {
      for (;;) {
        const lineEnd = rest.indexOf('\r\n');
        const size = Number.parseInt(rest.slice(0, lineEnd), 16);
        if (lineEnd < 0 || Number.isNaN(size) || rest.length < lineEnd + 2 + size + 2)
          throw new Error(`truncated chunked body after ${body.length} bytes`);
        rest = rest.slice(lineEnd + 2);
        if (size === 0) {
          rest = rest.slice(2);
          break;
        }
        body += rest.slice(0, size);
        rest = rest.slice(size + 2);
      }
    } else if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      body = rest.slice(0, n);
      rest = rest.slice(n);
    } else {
      body = rest;
      rest = '';
    }
    out.push({ status, headers, body });
  }
  return out;
}

/** Resolves when the socket closes, however it closes (a reset is an outcome the test inspects). */
function closed(socket: Socket): Promise<void> {
  socket.on('error', () => {});
  return new Promise((resolve) => socket.on('close', () => resolve()));
}

const get = (path: string, extra = ''): string => `GET ${path} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`;
const last = (path: string): string => get(path, 'Connection: close\r\n');

/** A balancer in front of one echo server, for the tests of one describe block. */
function useBalancer(timeouts?: { clientKeepAliveMs: number; clientHeadersMs: number }): {
  server: TestBackend;
  lb: Balancer;
  port: number;
} {
  const ctx = {} as { server: TestBackend; lb: Balancer; port: number };
  beforeAll(async () => {
    ctx.server = await startBackend('a');
    ctx.lb = createBalancer({ backends: [ctx.server.url], ...(timeouts ? { timeouts } : {}) });
    ctx.port = (await ctx.lb.listen(0, '127.0.0.1')).port;
  });
  afterAll(async () => {
    await ctx.lb.close();
    await ctx.server.stop();
  });
  return ctx;
}

describe('client side', () => {
  const ctx = useBalancer();
  /** Requests that reached Node's HTTP server rather than the fast path. */
  let viaNode: string[];

  beforeAll(() => {
    ctx.lb.server.prependListener('request', (req) => viaNode.push(`${req.method} ${req.url}`));
    ctx.lb.server.prependListener('upgrade', (req) => viaNode.push(`upgrade ${req.url}`));
  });
  beforeEach(() => {
    viaNode = [];
    ctx.server.received.length = 0;
    ctx.server.handler = (req, res, body) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`${req.method} ${req.url}${body.length ? ` ${body}` : ''}`);
    };
  });

  it('serves plain requests itself, pipelined ones in order on one connection', async () => {
    const raw = await exchange(ctx.port, [get('/1') + get('/2?q=a%20b') + last('/3')]);
    const replies = parseResponses(raw, []);
    expect(replies.map((r) => r.body)).toEqual(['GET /1', 'GET /2?q=a%20b', 'GET /3']);
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(replies[0]!.headers.connection).toBe('keep-alive');
    expect(replies[2]!.headers.connection).toBe('close');
    expect(viaNode).toEqual([]);
  });

  it('hands the connection to Node at a request with a body, and the connection goes on there', async () => {
    const post = 'POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello';
    const raw = await exchange(ctx.port, [get('/a') + post + last('/c')]);
    expect(parseResponses(raw, []).map((r) => r.body)).toEqual(['GET /a', 'POST /b hello', 'GET /c']);
    expect(viaNode).toEqual(['POST /b', 'GET /c']);
  });

  it('hands over what it does not take: HTTP/1.0, Expect, two Hosts, odd targets, upgrades', async () => {
    const cases = [
      'GET /h10 HTTP/1.0\r\nHost: x\r\n\r\n',
      get('/expect', 'Expect: 100-continue\r\nConnection: close\r\n'),
      'GET /hosts HTTP/1.1\r\nHost: x\r\nHost: y\r\nConnection: close\r\n\r\n',
      'GET /a"b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      'PROPFIND /dav HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      get('/up', 'Upgrade: h2c\r\nConnection: Upgrade, close\r\n'),
      get('/two-lengths', 'Content-Length: 0\r\nContent-Length: 0\r\nConnection: close\r\n'),
      get('/tab-length', 'Content-Length: 0\t\r\nConnection: close\r\n'),
      get('/proxy-connection', 'Proxy-Connection: close\r\n'),
    ];
    for (const raw of cases) {
      viaNode = [];
      const [reply] = parseResponses(await exchange(ctx.port, [raw]), []);
      // Node's server read it: served it, or refused it (its parser's 400 comes before any
      // 'request' event; the balancer's own checks of a head it read, such as two Hosts, after).
      const refused =
        reply!.status === 400 && reply!.headers['x-unpinned-error'] === 'UNPINNED_ERR_LB_BAD_REQUEST';
      expect({ raw, handedOver: viaNode.length === 1 || (refused && viaNode.length === 0) }).toEqual({
        raw,
        handedOver: true,
      });
    }
  });

  it('reads a head that arrives in arbitrary pieces the same as one that arrives whole', async () => {
    const stream = get('/x', 'Cookie: a=1\r\n') + get('/y') + last('/z');
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 8 }),
        async (cuts) => {
          const points = [0, ...cuts.sort((a, b) => a - b), stream.length];
          const pieces = points.slice(1).map((p, i) => stream.slice(points[i], p));
          const replies = parseResponses(await exchange(ctx.port, pieces), []);
          expect(replies.map((r) => r.body)).toEqual(['GET /x', 'GET /y', 'GET /z']);
        },
      ),
      { numRuns: 25 },
    );
    expect(viaNode).toEqual([]);
  });

  it('frames responses as a client of Node expects: chunked, HEAD, 204, and a Date when missing', async () => {
    ctx.server.handler = (req, res) => {
      if (req.url === '/stream') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('one,');
        setImmediate(() => res.end('two'));
      } else if (req.url === '/empty') res.writeHead(204).end();
      else if (req.url === '/nodate') {
        res.sendDate = false;
        res.end('plain');
      } else res.writeHead(200, { 'content-length': '5' }).end(req.method === 'HEAD' ? undefined : 'hello');
    };
    const head = 'HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n';
    const raw = await exchange(ctx.port, [
      get('/stream') + head + get('/empty') + get('/nodate') + last('/h'),
    ]);
    const [stream, headReply, empty, nodate, after] = parseResponses(raw, [false, true]);
    expect(stream!.headers['transfer-encoding']).toBe('chunked');
    expect(stream!.body).toBe('one,two');
    expect(headReply!.headers['content-length']).toBe('5');
    expect(headReply!.body).toBe('');
    expect(empty!.status).toBe(204);
    expect(nodate!.body).toBe('plain');
    expect(Date.parse(nodate!.headers.date!)).not.toBeNaN();
    expect(after!.body).toBe('hello');
    expect(viaNode).toEqual([]);
  });

  it('answers through undici clients with keep-alive reuse', async () => {
    for (let i = 0; i < 5; i++)
      expect((await send(`http://127.0.0.1:${ctx.port}/k${i}`)).text).toBe(`GET /k${i}`);
    expect(viaNode).toEqual([]);
  });
});

describe('client side timeouts', () => {
  const ctx = useBalancer({ clientKeepAliveMs: 200, clientHeadersMs: 200 });

  it('closes an idle keep-alive connection after clientKeepAliveMs', async () => {
    const socket = connect(ctx.port, '127.0.0.1');
    let out = '';
    socket.on('data', (c: Buffer) => {
      out += c.toString('latin1');
    });
    socket.write(get('/once'));
    await closed(socket);
    const [reply] = parseResponses(out, []);
    expect(reply!.status).toBe(200);
    expect(reply!.headers.connection).toBe('keep-alive');
  });

  it('closes a connection whose head does not arrive whole within clientHeadersMs, forwarding nothing', async () => {
    ctx.server.received.length = 0;
    const socket = connect(ctx.port, '127.0.0.1');
    socket.write('GET /slow HTTP/1.1\r\nHost: x\r\n');
    await closed(socket);
    expect(ctx.server.received).toEqual([]);
  });
});

describe('client side timers across phases', () => {
  const ctx = useBalancer({ clientKeepAliveMs: 100, clientHeadersMs: 30_000 });

  it('a keep-alive timer from the last exchange does not close a connection with a head arriving', async () => {
    const first = connect(ctx.port, '127.0.0.1');
    const firstClosed = closed(first);
    let out = '';
    first.on('data', (c: Buffer) => {
      out += c.toString('latin1');
    });
    first.write(get('/one'));
    await waitFor(() => out.includes('"url":"/one"'));
    first.write('GET /two HTTP/1.1\r\n');
    // A second connection's keep-alive timer, armed later with the same delay, fires later: once
    // it has closed that connection, the first connection's keep-alive timer has fired too.
    const second = connect(ctx.port, '127.0.0.1');
    second.on('data', () => {});
    second.write(get('/other'));
    await closed(second);
    if (!first.destroyed) first.write('Host: x\r\nConnection: close\r\n\r\n');
    await firstClosed;
    expect(parseResponses(out, []).map((r) => JSON.parse(r.body).url)).toEqual(['/one', '/two']);
  });
});

/**
 * A server that streams a chunked body in 4 KiB pieces to a client that is not reading, and ends
 * it at the moment the balancer has bytes of it queued in user space: the end of a response then
 * lies in the balancer's write queue, as for any slow client and any large enough response.
 */
describe('slow clients', () => {
  let upstream: Server;
  let lb: Balancer;
  let port: number;
  const heads: string[] = [];
  /** The balancer's side of the first client connection. */
  let lbSocket: Socket | undefined;
  let sentBytes = 0;

  beforeAll(async () => {
    upstream = createServer((s) => {
      let buf = '';
      s.on('data', (d: Buffer) => {
        buf += d.toString('latin1');
        for (let i = buf.indexOf('\r\n\r\n'); i >= 0; i = buf.indexOf('\r\n\r\n')) {
          const head = buf.slice(0, i);
          buf = buf.slice(i + 4);
          heads.push(head.split('\r\n')[0]!);
          if (!head.startsWith('GET /big')) {
            s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
            continue;
          }
          s.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n');
          const piece = `1000\r\n${'a'.repeat(4096)}\r\n`;
          const pump = (): void => {
            if (s.destroyed) return;
            if (lbSocket && lbSocket.writableLength > 0) {
              s.write('0\r\n\r\n');
              return;
            }
            s.write(piece);
            sentBytes += 4096;
            setImmediate(pump);
          };
          pump();
        }
      });
      s.on('error', () => {});
    });
    upstream.listen(0, '127.0.0.1');
    await new Promise((resolve) => upstream.once('listening', resolve));
    const url = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`;
    lb = createBalancer({ backends: [url], timeouts: { clientKeepAliveMs: 100 } });
    port = (await lb.listen(0, '127.0.0.1')).port;
    lb.server.prependListener('connection', (socket: Socket) => {
      lbSocket ??= socket;
    });
  });
  afterAll(async () => {
    await lb.close();
    await new Promise((resolve) => upstream.close(resolve));
  });
  beforeEach(() => {
    heads.length = 0;
    lbSocket = undefined;
    sentBytes = 0;
  });

  /** Resolves when the balancer has finished the request for `url` (its request event). */
  function finished(url: string): Promise<void> {
    return new Promise((resolve) => {
      const onRequest = (message: unknown): void => {
        if ((message as { url?: string }).url !== url) return;
        diagnosticsChannel.unsubscribe('unpinned:balancer:request', onRequest);
        resolve();
      };
      diagnosticsChannel.subscribe('unpinned:balancer:request', onRequest);
    });
  }

  /** Resumes a paused client and returns everything it reads until the balancer closes it. */
  function readToClose(client: Socket, clientClosed: Promise<void>): Promise<string> {
    let out = '';
    client.on('data', (c: Buffer) => {
      out += c.toString('latin1');
    });
    client.resume();
    return clientClosed.then(() => out);
  }

  /** Chunked body bytes in `raw` and whether its last chunk arrived. */
  function chunked(raw: string): { bytes: number; complete: boolean } {
    try {
      const [reply] = parseResponses(raw, []);
      return { bytes: reply?.body.length ?? 0, complete: reply?.headers['transfer-encoding'] === 'chunked' };
    } catch {
      return { bytes: -1, complete: false }; // truncated
    }
  }

  it('the keep-alive timeout does not cut a response still queued for the client', async () => {
    const done = finished('/big');
    const client = connect(port, '127.0.0.1');
    const clientClosed = closed(client);
    client.pause();
    client.write(get('/big'));
    await done;
    // A second connection's keep-alive timer starts after the first response ended and has the
    // same delay: once it closed that connection, a timer started at the end of the first
    // response would have fired too.
    const other = connect(port, '127.0.0.1');
    other.on('data', () => {});
    other.write(get('/small'));
    await closed(other);
    expect(chunked(await readToClose(client, clientClosed))).toEqual({ bytes: sentBytes, complete: true });
  });

  it('serves nothing that arrives after a response that closes the connection', async () => {
    const done = finished('/big');
    const client = connect(port, '127.0.0.1');
    const clientClosed = closed(client);
    client.pause();
    const first = get('/big', 'Connection: close\r\n');
    const later = 'DELETE /account HTTP/1.1\r\nHost: x\r\n\r\n';
    client.write(first);
    await done;
    client.write(later);
    await waitFor(() => (lbSocket?.bytesRead ?? 0) >= first.length + later.length);
    expect(chunked(await readToClose(client, clientClosed))).toEqual({ bytes: sentBytes, complete: true });
    expect(heads).toEqual(['GET /big HTTP/1.1']);
  });
});
