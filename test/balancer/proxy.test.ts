import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Balancer, createBalancer } from '../../src/balancer/index.js';
import { startBackends, type TestBackend } from '../helpers/backends.js';
import { send, servedBy } from '../helpers/client.js';

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
});
