/**
 * The balancer's upstream client against servers that misbehave in the ways real ones do: raw
 * TCP servers that write exact bytes, so each case is on the wire as written here. Keep-alive
 * reuse and expiry, the connection cap, a server closing an idle connection as a request goes
 * out, bytes after a response, invalid responses, and bodies framed every way.
 */
import { once } from 'node:events';
import { createServer as createHttpServer, type ServerResponse } from 'node:http';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { type Balancer, type BalancerOptions, createBalancer } from '../../src/balancer/index.js';
import { type UpstreamError, UpstreamPool } from '../../src/balancer/upstream/pool.js';
import { send } from '../helpers/client.js';
import { barrier, waitFor } from '../helpers/wait.js';

let lb: Balancer | undefined;
const servers: Server[] = [];
afterEach(async () => {
  await lb?.close();
  lb = undefined;
  for (const s of servers.splice(0)) {
    s.close();
    (s as { closeAllConnections?: () => void }).closeAllConnections?.();
  }
});

async function balance(url: string, options: Partial<BalancerOptions> = {}): Promise<string> {
  lb = createBalancer({ backends: [url], ...options });
  const { port } = await lb.listen(0, '127.0.0.1');
  return `http://127.0.0.1:${port}`;
}

interface RawServer {
  url: string;
  /** Connections accepted so far, and the ones closed. */
  connections: number;
  closed: number;
  /** Requests seen, as "METHOD /path" with the connection's request number (1-based). */
  requests: string[];
}

/**
 * A TCP server that answers each request head with `answer(request, nth on this connection,
 * socket)`. Request bodies are not expected (except where a test sends one and ignores it).
 */
async function rawServer(answer: (head: string, nth: number, socket: Socket) => void): Promise<RawServer> {
  const state: RawServer = { url: '', connections: 0, closed: 0, requests: [] };
  const server = createServer((socket) => {
    state.connections++;
    let nth = 0;
    let buffered = '';
    socket.on('close', () => state.closed++);
    socket.on('error', () => {});
    socket.on('data', (chunk) => {
      buffered += chunk.toString('latin1');
      for (let end = buffered.indexOf('\r\n\r\n'); end >= 0; end = buffered.indexOf('\r\n\r\n')) {
        const head = buffered.slice(0, end);
        buffered = buffered.slice(end + 4);
        const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 0);
        buffered = buffered.slice(Math.min(length, buffered.length));
        nth++;
        state.requests.push(`${head.split(' ').slice(0, 2).join(' ')} #${nth}`);
        answer(head, nth, socket);
      }
    });
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}

const ok = (body = 'ok', extra = '') =>
  `HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ${body.length}\r\n${extra}\r\n${body}`;

describe('upstream connections', () => {
  it('reuses one keep-alive connection for requests one after another', async () => {
    const raw = await rawServer((_h, _n, s) => s.write(ok()));
    const base = await balance(raw.url);
    for (let i = 0; i < 20; i++) expect((await send(`${base}/n${i}`)).text).toBe('ok');
    expect(raw.connections).toBe(1);
    expect(raw.requests.at(-1)).toBe('GET /n19 #20');
  });

  it('caps connections per server and queues the rest in order', async () => {
    const release = barrier();
    const held: ServerResponse[] = [];
    let connections = 0;
    const server = createHttpServer((req, res) => {
      held.push(res);
      req.resume();
      void release.promise.then(() => res.end(req.url));
    });
    server.on('connection', () => connections++);
    servers.push(server as unknown as Server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const base = await balance(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, {
      limits: { connectionsPerBackend: 2 },
    });
    const replies = Array.from({ length: 6 }, (_, i) => send(`${base}/r${i}`));
    await waitFor(() => held.length === 2, { what: 'two requests at the server' });
    expect(connections).toBe(2);
    release.open();
    const texts = (await Promise.all(replies)).map((r) => r.text);
    expect(texts).toEqual(['/r0', '/r1', '/r2', '/r3', '/r4', '/r5']);
    expect(connections).toBe(2);
  });

  it('closes idle connections when their keep-alive runs out, sooner when the server says so', async () => {
    const raw = await rawServer((_h, _n, s) => s.write(ok()));
    const base = await balance(raw.url, { timeouts: { upstreamKeepAliveMs: 100 } });
    await send(`${base}/`);
    await waitFor(() => raw.closed === 1, { what: 'the idle connection closed by the balancer' });

    // "Keep-Alive: timeout=1" leaves no safe time to reuse the connection (1 s margin).
    const hinting = await rawServer((_h, _n, s) => s.write(ok('ok', 'keep-alive: timeout=1\r\n')));
    await lb!.close();
    const base2 = await balance(hinting.url);
    await send(`${base2}/`);
    await send(`${base2}/`);
    expect(hinting.connections).toBe(2);
  });

  it('sends a GET again on a fresh connection when the server closed the idle one unanswered', async () => {
    // The second request on any connection meets a server that closes it without a byte: what a
    // server does when its keep-alive timeout ends just as the request arrives.
    const raw = await rawServer((_h, nth, s) => (nth === 1 ? s.write(ok()) : s.destroy()));
    const base = await balance(raw.url);
    expect((await send(`${base}/first`)).status).toBe(200);
    const again = await send(`${base}/second`);
    expect(again.status).toBe(200);
    expect(raw.requests).toEqual(['GET /first #1', 'GET /second #2', 'GET /second #1']);
    expect(/^unpinned_lb_retries_total (\d+)$/m.exec(await lb!.metrics())?.[1]).toBe('1');
    expect(lb!.backends()[0]!.failures).toBe(0); // a stale connection is not the server's failure

    // A POST is not sent twice: the server may have acted on it.
    const post = await send(`${base}/order`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(502);
    expect(post.headers['x-unpinned-error']).toBe('UNPINNED_ERR_LB_BACKEND_FAILED');
    expect(raw.requests.filter((r) => r.startsWith('POST'))).toEqual(['POST /order #2']);

    // Turned off, the GET gets the 502 too.
    await lb!.close();
    const strict = await balance(raw.url, { retry: { staleConnections: false } });
    expect((await send(`${strict}/first`)).status).toBe(200);
    expect((await send(`${strict}/second`)).status).toBe(502);
  });

  it('delivers a response followed by stray bytes, then never reuses that connection', async () => {
    const raw = await rawServer((_h, _n, s) => s.write(`${ok('fine')}HTTP/1.1 200 OK\r\n`));
    const base = await balance(raw.url);
    expect((await send(`${base}/a`)).text).toBe('fine');
    expect((await send(`${base}/b`)).text).toBe('fine');
    expect(raw.connections).toBe(2);
  });

  it('answers 502 for an invalid response and counts it against the server', async () => {
    const raw = await rawServer((_h, _n, s) =>
      s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n'),
    );
    const base = await balance(raw.url);
    const reply = await send(`${base}/`);
    expect(reply.status).toBe(502);
    expect(reply.headers['x-unpinned-error']).toBe('UNPINNED_ERR_LB_BACKEND_FAILED');
    expect(reply.text).toContain('both Transfer-Encoding and Content-Length');
    expect(lb!.backends()[0]!.failures).toBe(1);
  });

  it('answers 502 for a response head larger than the limit', async () => {
    const raw = await rawServer((_h, _n, s) => s.write(ok('ok', `x-big: ${'a'.repeat(20_000)}\r\n`)));
    const base = await balance(raw.url);
    const reply = await send(`${base}/`);
    expect(reply.status).toBe(502);
    expect(reply.text).toContain('response head too large');
  });

  it('relays bodies framed by chunks (trailers dropped) and by the end of the connection', async () => {
    const chunked = await rawServer((_h, _n, s) =>
      s.write(
        'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n4;x=y\r\ndefg\r\n0\r\nx-t: 1\r\n\r\n',
      ),
    );
    const base = await balance(chunked.url);
    expect((await send(`${base}/`)).text).toBe('abcdefg');
    expect((await send(`${base}/`)).text).toBe('abcdefg');
    expect(chunked.connections).toBe(1); // a chunked response keeps the connection

    const untilClose = await rawServer((_h, _n, s) => {
      s.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\npart one, ');
      setImmediate(() => s.end('part two'));
    });
    await lb!.close();
    const base2 = await balance(untilClose.url);
    expect((await send(`${base2}/`)).text).toBe('part one, part two');
    expect((await send(`${base2}/`)).text).toBe('part one, part two');
    expect(untilClose.connections).toBe(2);
  });

  it('a server that closes mid-body cuts the client connection instead of ending it cleanly', async () => {
    const raw = await rawServer((_h, _n, s) => {
      s.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly part');
      setImmediate(() => s.destroy());
    });
    const base = await balance(raw.url);
    await expect(send(`${base}/`)).rejects.toThrow();
  });

  const poolOptions = {
    connections: null,
    connectTimeoutMs: 5_000,
    headersTimeoutMs: 60_000,
    idleTimeoutMs: 60_000,
    keepAliveTimeoutMs: 4_000,
    maxResponseHeaderBytes: 16_384,
  };

  it('times out a server that stops taking the request body, instead of waiting forever', async () => {
    // Accepts the connection and never reads: the upload fills the socket buffers and stalls.
    const server = createServer((socket) => {
      socket.pause();
      socket.on('error', () => {});
    });
    servers.push(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const pool = new UpstreamPool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, {
      ...poolOptions,
      headersTimeoutMs: 200,
    });
    let sent = 0;
    const body = new Readable({
      read() {
        // Bounded: 64 MB at most, far more than any socket buffer.
        if (sent >= 64 * 1024 * 1024) return void this.push(null);
        sent += 65_536;
        this.push(Buffer.alloc(65_536));
      },
    });
    const error = await new Promise<UpstreamError>((resolve) =>
      pool.dispatch(
        { method: 'POST', path: '/upload', headers: ['content-length', String(64 * 1024 * 1024)], body },
        {
          onConnect: () => {},
          onHeaders: () => true,
          onData: () => true,
          onComplete: () => resolve(new Error('completed') as UpstreamError),
          onError: (err) => resolve(err as UpstreamError),
        },
      ),
    );
    expect(error.kind).toBe('headers-timeout');
    expect(error.message).toContain('took none of the request body');
    await pool.destroy();
  });

  it('does not time out a response while the client side holds it paused', async () => {
    const size = 16 * 1024 * 1024;
    const raw = await rawServer((_h, _n, s) => {
      s.write(`HTTP/1.1 200 OK\r\ncontent-length: ${size}\r\n\r\n`);
      s.end(Buffer.alloc(size, 120));
    });
    const idleTimeoutMs = 100;
    const pool = new UpstreamPool(raw.url, { ...poolOptions, idleTimeoutMs });
    let received = 0;
    let resume: (() => void) | undefined;
    let pausedAt = 0;
    const outcome = new Promise<string>((resolve) =>
      pool.dispatch(
        { method: 'GET', path: '/big', headers: [], body: null },
        {
          onConnect: () => {},
          onHeaders: (_status, _headers, r) => {
            resume = r;
            return true;
          },
          onData: (chunk) => {
            received += chunk.length;
            if (pausedAt === 0) {
              pausedAt = Date.now();
              return false; // a slow client: stop after the first chunk
            }
            return true;
          },
          onComplete: () => resolve('complete'),
          onError: (err) => resolve(`error: ${(err as UpstreamError).kind}`),
        },
      ),
    );
    await waitFor(() => pausedAt > 0, { what: 'the first chunk' });
    // Proving a timer does not fire takes letting its time pass: five idle timeouts, bounded.
    let early: string | undefined;
    void outcome.then((o) => {
      early = o;
    });
    await waitFor(() => early !== undefined || Date.now() - pausedAt > 5 * idleTimeoutMs, {
      what: 'five idle timeouts to pass',
    });
    expect(early).toBeUndefined();
    resume!();
    expect(await outcome).toBe('complete');
    expect(received).toBe(size);
    await pool.destroy();
  });
});
