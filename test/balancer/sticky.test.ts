/**
 * The sticky-cookie baseline, end to end: it pins, survives restarts of the other servers,
 * re-pins when its server goes down or is removed, and keeps pinned clients of a draining server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Balancer, createBalancer } from '../../src/balancer/index.js';
import { startBackends, type TestBackend } from '../helpers/backends.js';
import { type Reply, send } from '../helpers/client.js';

describe('sticky-cookie', () => {
  let servers: TestBackend[];
  let lb: Balancer;
  let base: string;

  beforeAll(async () => {
    servers = await startBackends(['a', 'b', 'c']);
    lb = createBalancer({
      backends: servers.map((s) => ({ url: s.url, id: s.name })),
      strategy: 'sticky-cookie',
      stickyCookie: 'SRV',
    });
    base = `http://127.0.0.1:${(await lb.listen(0, '127.0.0.1')).port}`;
  });
  afterAll(async () => {
    await lb.close();
    await Promise.all(servers.map((s) => s.stop()));
  });

  const server = (r: Reply) => String(r.headers['x-backend']);
  const setCookie = (r: Reply) => {
    const raw = r.headers['set-cookie'];
    const value = Array.isArray(raw) ? raw.join('\n') : raw;
    return value === undefined ? undefined : /SRV=([^;]+)/.exec(value)?.[1];
  };
  const withCookie = (srv: string) => ({ headers: { cookie: `theme=dark; SRV=${srv}; lang=en` } });
  const byName = (name: string) => servers.find((s) => s.name === name)!;

  it('pins, survives restarts of other servers, re-pins when its server goes down or is removed', async () => {
    const first = await send(`${base}/`);
    const pinned = server(first);
    const cookie = setCookie(first)!;
    expect(cookie).toMatch(/^[A-Za-z0-9_-]{12}$/); // a hash: no address leaks to the client
    expect(first.headers['set-cookie']).toContain('HttpOnly');
    expect(first.headers['cache-control']).toBe('private'); // nocache: never cached with a pin

    for (let i = 0; i < 5; i++) {
      const r = await send(`${base}/`, withCookie(cookie));
      expect(server(r)).toBe(pinned);
      expect(setCookie(r)).toBeUndefined(); // indirect: not re-sent to a client that has it
    }
    // indirect: the server never sees the balancer's cookie, the app's cookies pass.
    const seen = byName(pinned).received.at(-1)!.headers.cookie;
    expect(seen).toBe('theme=dark; lang=en');

    for (const other of servers.filter((s) => s.name !== pinned)) {
      await other.stop();
      await other.start();
    }
    for (let i = 0; i < 3; i++) expect(server(await send(`${base}/`, withCookie(cookie)))).toBe(pinned);

    await byName(pinned).stop(); // its server goes down (connection refused)
    const moved = await send(`${base}/`, withCookie(cookie));
    expect(moved.status).toBe(200);
    const repinned = server(moved);
    expect(repinned).not.toBe(pinned);
    const newCookie = setCookie(moved)!;
    expect(newCookie).not.toBe(cookie);
    for (let i = 0; i < 3; i++) expect(server(await send(`${base}/`, withCookie(newCookie)))).toBe(repinned);

    await lb.removeBackend(repinned); // removed from the balancer: re-pinned again
    const again = await send(`${base}/`, withCookie(newCookie));
    expect(again.status).toBe(200);
    expect([pinned, repinned]).not.toContain(server(again));
    expect(setCookie(again)).toBeDefined();
    await byName(pinned).start();
  });

  it('keeps pinned clients on a draining server, sends new clients elsewhere', async () => {
    const lb2 = createBalancer({
      backends: servers.map((s) => ({ url: s.url, id: s.name })),
      strategy: 'sticky-cookie',
    });
    const base2 = `http://127.0.0.1:${(await lb2.listen(0, '127.0.0.1')).port}`;
    const first = await send(`${base2}/`);
    const pinned = server(first);
    const cookie = setCookie(first)!;
    void lb2.drain(pinned);
    expect(server(await send(`${base2}/`, withCookie(cookie)))).toBe(pinned);
    for (let i = 0; i < 4; i++) expect(server(await send(`${base2}/`))).not.toBe(pinned);
    await lb2.close();
  });
});
