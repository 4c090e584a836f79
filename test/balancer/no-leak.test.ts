/**
 * No response ever reaches the wrong client. 40 keep-alive clients, each with its own id and
 * session cookie, send 25 requests each through one balancer to three app servers; about a
 * tenth of the requests ask the server to misbehave in one of the ways a desync is made of.
 * Each misbehaving answer carries, after what the response declares, a second complete
 * response for the same client: were the server connection reused, the next client on it would
 * read that one. Every client must receive only its own id and its own Set-Cookie, and no
 * request may ever arrive on a server connection after it misbehaved.
 */
import { once } from 'node:events';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Balancer, createBalancer } from '../../src/balancer/index.js';

/** How a server misbehaves, chosen by the request path `/mis/<kind>`. */
const kinds = [
  'extra-response', // a second response right after the first (bytes after the response)
  'short-length', // Content-Length shorter than what follows
  'long-length', // Content-Length longer than what is sent, then close
  'length-and-chunked', // both Content-Length and Transfer-Encoding
  'bare-lf', // a head with bare LF line endings
  'bad-chunk', // a chunk-size line that is not hex, after a good chunk
  'no-content-body', // 204 with bytes after it
  'head-body', // an answer to HEAD with a body
  'interim', // 100 Continue, then the answer (well-formed)
  'close-mid-body', // the connection closes inside the body
  'early-answer', // answered before the request body was read
] as const;
type Kind = (typeof kinds)[number];

const clients = 40;
const perClient = 25;

/** The answer a server gives client `id`: its id in the body and its cookie. */
function answer(id: string, status = 200, extraHead = ''): string {
  const body = JSON.stringify({ id });
  return `HTTP/1.1 ${status} OK\r\ncontent-type: application/json\r\nset-cookie: sid=${id}\r\n${extraHead}content-length: ${body.length}\r\n\r\n${body}`;
}

function misbehave(kind: Kind, id: string): { bytes: string; close: boolean } {
  const next = answer(id); // what a reused connection would hand to the next client
  const body = JSON.stringify({ id });
  const cookie = `set-cookie: sid=${id}\r\n`;
  switch (kind) {
    case 'extra-response':
      return { bytes: answer(id) + next, close: false };
    case 'short-length':
      return {
        bytes: `HTTP/1.1 200 OK\r\n${cookie}content-length: ${body.length}\r\n\r\n${body}${next}`,
        close: false,
      };
    case 'long-length':
      return {
        bytes: `HTTP/1.1 200 OK\r\n${cookie}content-length: ${body.length + 50}\r\n\r\n${body}`,
        close: true,
      };
    case 'length-and-chunked':
      return {
        bytes: `HTTP/1.1 200 OK\r\n${cookie}content-length: 5\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n${next}`,
        close: false,
      };
    case 'bare-lf':
      return {
        bytes: `HTTP/1.1 200 OK\n${cookie.replace('\r', '')}content-length: ${body.length}\n\n${body}${next}`,
        close: false,
      };
    case 'bad-chunk':
      return {
        bytes: `HTTP/1.1 200 OK\r\n${cookie}transfer-encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\nzz\r\n${next}`,
        close: false,
      };
    case 'no-content-body':
      return { bytes: `HTTP/1.1 204 No Content\r\n${cookie}\r\n${next}`, close: false };
    case 'head-body':
      return {
        bytes: `HTTP/1.1 200 OK\r\n${cookie}content-length: ${next.length}\r\n\r\n${next}`,
        close: false,
      };
    case 'interim':
      return { bytes: `HTTP/1.1 100 Continue\r\n\r\n${answer(id)}`, close: false };
    case 'close-mid-body':
      return { bytes: `HTTP/1.1 200 OK\r\n${cookie}content-length: 500\r\n\r\n${body}`, close: true };
    case 'early-answer':
      return { bytes: answer(id), close: false };
  }
}

interface AppServer {
  server: Server;
  url: string;
  /** Requests that arrived on a connection after it misbehaved: must stay 0. */
  reusedAfterMisbehaving: number;
  misbehaved: number;
}

/** A raw TCP app server: reads request heads (and declared bodies) and answers each. */
async function startApp(): Promise<AppServer> {
  const app: AppServer = { server: undefined as never, url: '', reusedAfterMisbehaving: 0, misbehaved: 0 };
  app.server = createServer((socket: Socket) => {
    let buffered = '';
    let poisoned = false;
    /** Body bytes of an early-answered request still to come. */
    let skip = 0;
    socket.on('error', () => {});
    socket.on('data', (chunk) => {
      buffered += chunk.toString('latin1');
      const skipped = Math.min(skip, buffered.length);
      buffered = buffered.slice(skipped);
      skip -= skipped;
      for (let end = buffered.indexOf('\r\n\r\n'); end >= 0; end = buffered.indexOf('\r\n\r\n')) {
        const head = buffered.slice(0, end);
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        const kind = /^\S+ \/mis\/([a-z-]+)/.exec(head)?.[1] as Kind | undefined;
        // An early answer goes before the body is read; otherwise wait for the whole body.
        if (kind !== 'early-answer' && buffered.length < end + 4 + length) return;
        const taken = Math.min(buffered.length, end + 4 + length);
        skip = end + 4 + length - taken;
        buffered = buffered.slice(taken);
        if (poisoned) app.reusedAfterMisbehaving++;
        const id = /\r\nx-client-id: *(\S+)/i.exec(head)?.[1] ?? 'none';
        if (!kind) {
          socket.write(
            head.startsWith('HEAD ') ? answer(id).replace(/\r\n\r\n.*$/s, '\r\n\r\n') : answer(id),
          );
          continue;
        }
        app.misbehaved++;
        // A well-formed interim answer, or an early one after which the whole upload still
        // arrived, leaves the connection usable; every other kind must retire it.
        poisoned = kind !== 'interim' && kind !== 'early-answer';
        const { bytes, close } = misbehave(kind, id);
        socket.write(bytes, 'latin1');
        if (close) socket.end();
      }
    });
  });
  app.server.listen(0, '127.0.0.1');
  await once(app.server, 'listening');
  app.url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return app;
}

describe('no cross-client leak', () => {
  let lb: Balancer;
  let apps: AppServer[];
  let base: string;
  beforeAll(async () => {
    apps = await Promise.all([startApp(), startApp(), startApp()]);
    // Passive ejection off: misbehaving answers are asked for here, not a sign of a bad server.
    lb = createBalancer({ backends: apps.map((a) => a.url), strategy: 'round-robin', passive: false });
    base = `http://127.0.0.1:${(await lb.listen(0, '127.0.0.1')).port}`;
  });
  afterAll(async () => {
    await lb.close();
    for (const app of apps) app.server.close();
  });

  it('40 keep-alive clients × 25 requests, a tenth misbehaving: each gets only its own answers', async () => {
    const wrong: string[] = [];
    const failedGood: string[] = [];
    let misbehaving = 0;
    let good = 0;
    const runClient = async (c: number) => {
      const id = `client-${c}`;
      const pool = new Pool(base, { connections: 1, pipelining: 1 });
      try {
        for (let r = 0; r < perClient; r++) {
          // Deterministic mix: every tenth request of the run misbehaves, each kind in turn.
          const n = c * perClient + r;
          const kind = n % 10 === 3 ? kinds[((n / 10) % kinds.length) | 0] : undefined;
          const method = kind === 'head-body' ? 'HEAD' : kind === 'early-answer' ? 'POST' : 'GET';
          const path = kind ? `/mis/${kind}` : `/ok/${r}`;
          if (kind) misbehaving++;
          else good++;
          try {
            const res = await pool.request({
              path,
              method,
              headers: { 'x-client-id': id, cookie: `sid=${id}` },
              body: method === 'POST' ? 'x'.repeat(64) : undefined,
            });
            const text = await res.body.text();
            const cookies = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
            for (const cookie of cookies)
              if (cookie !== `sid=${id}`) wrong.push(`${id} got cookie ${cookie}`);
            if (text.includes('"id"') && JSON.parse(text).id !== id) wrong.push(`${id} got body ${text}`);
            if (!kind && res.statusCode !== 200) failedGood.push(`${id} ${path}: ${res.statusCode}`);
          } catch (err) {
            if (!kind) failedGood.push(`${id} ${path}: ${(err as Error).message}`);
          }
        }
      } finally {
        await pool.close();
      }
    };
    await Promise.all(Array.from({ length: clients }, (_, c) => runClient(c)));
    expect(wrong).toEqual([]);
    expect(failedGood).toEqual([]);
    expect(apps.reduce((n, a) => n + a.reusedAfterMisbehaving, 0)).toBe(0);
    // The misbehaving requests did reach the servers (the test exercises what it claims).
    expect(misbehaving).toBe(100);
    expect(good).toBe(900);
    expect(apps.reduce((n, a) => n + a.misbehaved, 0)).toBe(100);
  });
});
