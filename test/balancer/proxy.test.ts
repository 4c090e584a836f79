import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Balancer, createBalancer } from '../../src/balancer/index.js';
import { startBackends, type TestBackend } from '../helpers/backends.js';
import { send, servedBy } from '../helpers/client.js';
import { waitFor } from '../helpers/wait-for.js';

describe('proxying', () => {
  let backends: TestBackend[];
  let lb: Balancer;
  let base: string;

  beforeAll(async () => {
    backends = await startBackends(['a', 'b']);
    lb = createBalancer({ backends: backends.map((b) => b.url) });
    const { port } = await lb.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    await lb.close();
    await Promise.all(backends.map((b) => b.stop()));
  });

  it('forwards method, path, query and body, and returns status, headers and body', async () => {
    backends[0]!.handler = backends[1]!.handler = (req, res, body) => {
      res.writeHead(201, { 'x-echo-method': req.method!, 'x-backend': 'any' });
      res.end(`${req.url}|${body.toString()}`);
    };
    const reply = await send(`${base}/items?x=1`, {
      method: 'POST',
      body: 'hello',
      headers: { 'content-type': 'text/plain' },
    });
    expect(reply.status).toBe(201);
    expect(reply.headers['x-echo-method']).toBe('POST');
    expect(reply.text).toBe('/items?x=1|hello');
    backends[0]!.handler = backends[1]!.handler = undefined;
  });

  it('streams a large chunked body both ways without buffering it whole', async () => {
    const size = 4 * 1024 * 1024;
    for (const b of backends) {
      b.handler = (_req, res, body) => {
        res.writeHead(200, { 'x-backend': b.name });
        // Echo back in many chunks (chunked transfer encoding to the balancer).
        for (let i = 0; i < body.length; i += 65_536) res.write(body.subarray(i, i + 65_536));
        res.end();
      };
    }
    const payload = 'x'.repeat(size);
    const reply = await send(`${base}/upload`, { method: 'PUT', body: payload });
    expect(reply.status).toBe(200);
    expect(reply.text.length).toBe(size);
    expect(reply.text === payload).toBe(true);
    for (const b of backends) b.handler = undefined;
  });

  it('spreads requests over both servers (round-robin by default)', async () => {
    const names = [];
    for (let i = 0; i < 4; i++) names.push(servedBy(await send(`${base}/`)));
    expect(names.sort()).toEqual(['a', 'a', 'b', 'b']);
  });

  it('answers HEAD without a body and passes 204/304 through', async () => {
    for (const b of backends) {
      b.handler = (req, res) => {
        if (req.url === '/nc') return void res.writeHead(304, { etag: '"1"' }).end();
        if (req.url === '/none') return void res.writeHead(204).end();
        res
          .writeHead(200, { 'content-length': '5', 'content-type': 'text/plain' })
          .end(req.method === 'HEAD' ? undefined : 'hello');
      };
    }
    const head = await send(`${base}/`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe('5');
    expect(head.text).toBe('');
    expect((await send(`${base}/nc`)).status).toBe(304);
    expect((await send(`${base}/none`)).status).toBe(204);
    for (const b of backends) b.handler = undefined;
  });

  it('a client that goes away mid-request frees the server and is not counted against it', async () => {
    const { connect } = await import('node:net');
    const [a, b] = backends as [TestBackend, TestBackend];
    let upstreamClosed = 0;
    for (const s of [a, b]) {
      s.handler = (req) => void req.socket.once('close', () => upstreamClosed++); // never answers
    }
    const socket = connect(Number(new URL(base).port), '127.0.0.1');
    socket.on('error', () => {});
    socket.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor(() => a.inFlight + b.inFlight === 1, { message: 'request at a server' });
    socket.destroy();
    await waitFor(() => upstreamClosed === 1, { message: 'the upstream request to be aborted' });
    await waitFor(() => lb.backends().every((s) => s.inFlight === 0), { message: 'in-flight back to 0' });
    expect(lb.backends().reduce((n, s) => n + s.failures, 0)).toBe(0);
    expect(await lb.metrics()).toMatch(/unpinned_lb_requests_total\{server="[^"]+",code="499"\} 1/);
    for (const s of [a, b]) s.handler = undefined;
  });

  it('publishes request events on diagnostics_channel only to subscribers', async () => {
    const { subscribe, unsubscribe } = await import('node:diagnostics_channel');
    const seen: { server?: string; status: number; method: string; url: string }[] = [];
    const listener = (msg: unknown) => void seen.push(msg as (typeof seen)[number]);
    subscribe('unpinned:balancer:request', listener);
    await send(`${base}/observed`);
    unsubscribe('unpinned:balancer:request', listener);
    await send(`${base}/unobserved`);
    expect(seen).toEqual([expect.objectContaining({ method: 'GET', url: '/observed', status: 200 })]);
    expect(['127.0.0.1']).toContain(seen[0]!.server!.split(':')[0]);
  });

  it('propagates backpressure: a client that stops reading stops the server, nothing piles up', async () => {
    const { connect } = await import('node:net');
    const total = 64 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 'z');
    let written = 0;
    let ended = false;
    for (const s of backends) {
      s.handler = (_req, res) => {
        res.writeHead(200, { 'content-length': String(total) });
        const pump = () => {
          while (written < total) {
            written += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
          ended = true;
        };
        pump();
      };
    }
    const socket = connect(Number(new URL(base).port), '127.0.0.1');
    socket.pause(); // the client reads nothing for now
    socket.write('GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    // Wait until the server either finished (the balancer swallowed everything: wrong) or made
    // no progress over 50 consecutive checks (it waits for the client: right).
    let last = -1;
    let still = 0;
    await waitFor(
      () => {
        still = written === last ? still + 1 : 0;
        last = written;
        return ended || (written > 0 && still >= 50);
      },
      { message: 'the server to finish or stall' },
    );
    expect(ended).toBe(false);
    // Bounded by socket buffers and stream high-water marks, far below the 64 MiB body.
    expect(written).toBeLessThan(16 * 1024 * 1024);
    let received = 0;
    socket.on('data', (d: Buffer) => {
      received += d.length;
    });
    socket.resume();
    await new Promise((resolve) => socket.once('close', resolve));
    expect(received).toBeGreaterThan(total); // the whole body, plus the response head
    expect(ended).toBe(true);
    for (const s of backends) s.handler = undefined;
  });
});
