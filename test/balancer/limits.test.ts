/**
 * Timeouts and limits, with the balancer's own clear 4xx/5xx answers. The short timeouts below
 * are configuration for the test, not performance claims: nothing asserts how long anything took.
 */
import { Readable } from 'node:stream';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Balancer, createBalancer } from '../../src/balancer/index.js';
import { startBackend, type TestBackend } from '../helpers/backends.js';
import { send } from '../helpers/client.js';

let server: TestBackend;
let lb: Balancer;
let base: string;
const held: (() => void)[] = [];

beforeAll(async () => {
  server = await startBackend('a');
  server.handler = (req, res, body) => {
    if (req.url === '/hang') return void held.push(() => res.end());
    if (req.url === '/stall') {
      res.writeHead(200, { 'content-length': '100' });
      res.write('half');
      return void held.push(() => res.end());
    }
    res.writeHead(200, { 'x-backend': 'a' }).end(`got ${body.length}`);
  };
  lb = createBalancer({
    backends: [server.url],
    timeouts: { headersMs: 300, idleMs: 300 },
    limits: { maxBodyBytes: 1000 },
  });
  base = `http://127.0.0.1:${(await lb.listen(0, '127.0.0.1')).port}`;
});
afterAll(async () => {
  for (const release of held) release();
  await lb.close();
  await server.stop();
});

describe('timeouts', () => {
  it('a server that sends no headers in time: 504 with a clear body', async () => {
    const reply = await send(`${base}/hang`);
    expect(reply.status).toBe(504);
    expect(reply.headers['x-unpinned-error']).toBe('UNPINNED_ERR_LB_HEADERS_TIMEOUT');
    expect(reply.text).toMatch(/^504 Gateway Timeout: .*headers/);
  });

  it('a server that goes idle mid-body: the client connection is cut, not ended cleanly', async () => {
    await expect(send(`${base}/stall`)).rejects.toThrow();
    expect(await lb.metrics()).toMatch(
      /unpinned_lb_errors_total\{server="[^"]+",code="UNPINNED_ERR_LB_IDLE_TIMEOUT"\} 1/,
    );
  });
});

describe('body limit', () => {
  it('accepts a body within the limit', async () => {
    expect((await send(`${base}/up`, { method: 'POST', body: 'x'.repeat(1000) })).text).toBe('got 1000');
  });

  it('refuses a declared Content-Length over the limit before forwarding anything', async () => {
    const before = server.received.length;
    const reply = await send(`${base}/up`, { method: 'POST', body: 'x'.repeat(1001) });
    expect(reply.status).toBe(413);
    expect(reply.headers['x-unpinned-error']).toBe('UNPINNED_ERR_LB_BODY_TOO_LARGE');
    expect(server.received.length).toBe(before);
  });

  it('stops a chunked body once it passes the limit', async () => {
    const before = server.received.length;
    // A stream of unknown length is sent chunked (no Content-Length to check up front).
    const body = Readable.from(Array.from({ length: 10 }, () => Buffer.alloc(500, 'y')));
    const res = await request(`${base}/up`, { method: 'POST', body });
    expect(res.statusCode).toBe(413);
    expect(await res.body.text()).toContain('UNPINNED_ERR_LB_BODY_TOO_LARGE');
    expect(server.received.length).toBe(before); // the server never got a complete request
  });
});

describe('no server', () => {
  it('answers 503 with Retry-After when every server is drained', async () => {
    void lb.drain(server.url.slice(7));
    const reply = await send(`${base}/`);
    lb.undrain(server.url.slice(7));
    expect(reply.status).toBe(503);
    expect(reply.headers['retry-after']).toBe('1');
    expect(reply.text).toContain('UNPINNED_ERR_LB_NO_BACKEND');
  });
});
