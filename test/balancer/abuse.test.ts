/**
 * Abuse at the edge: slowloris heads, idle keep-alive connections by the thousand, stalled and
 * slow uploads, clients that vanish or stop reading mid-response, WebSocket peers that stop
 * reading, more connections than the cap. In each case the balancer goes on serving a
 * well-behaved client, closes the abusers by its own timers, and holds no more than it must:
 * the connection gauge returns to zero and servers are not asked for more than a slow client
 * takes. (The memory these cost is measured by `npm run bench:abuse`.)
 *
 * Timeouts are shortened here so the timers fire within the test; every wait is on a
 * condition with a deadline.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { type Balancer, type BalancerOptions, createBalancer } from '../../src/balancer/index.js';
import { send } from '../helpers/client.js';
import { waitFor } from '../helpers/wait.js';

let lb: Balancer | undefined;
const closers: (() => unknown)[] = [];
afterEach(async () => {
  await lb?.close();
  lb = undefined;
  for (const close of closers.splice(0)) await close();
});

async function app(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Server> {
  const server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => {
    server.closeAllConnections();
    server.close();
  });
  return server;
}

const urlOf = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

async function balance(server: Server, options: Partial<BalancerOptions> = {}): Promise<number> {
  lb = createBalancer({ backends: [urlOf(server)], ...options });
  return (await lb.listen(0, '127.0.0.1')).port;
}

async function gauge(name: string): Promise<number> {
  const line = (await lb!.metrics()).split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1]);
}

/** Opens `n` sockets to the balancer; resolves once all are connected. */
async function sockets(port: number, n: number): Promise<(Socket & { closedByPeer?: boolean })[]> {
  const list = await Promise.all(
    Array.from({ length: n }, async () => {
      const s = connect(port, '127.0.0.1') as Socket & { closedByPeer?: boolean };
      s.on('error', () => {});
      s.on('close', () => {
        s.closedByPeer = true;
      });
      await once(s, 'connect');
      return s;
    }),
  );
  closers.push(() => {
    for (const s of list) s.destroy();
  });
  return list;
}

const echo = (req: IncomingMessage, res: ServerResponse) => {
  req.resume();
  req.on('end', () => res.end(`ok ${req.url}`));
};

/** A well-behaved client: `n` requests, each answered 200. */
async function wellBehaved(port: number, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const reply = await send(`http://127.0.0.1:${port}/good/${i}`);
    expect(reply.status).toBe(200);
  }
}

describe('slowloris', () => {
  it('1,000 heads trickled a byte at a time are closed at the head deadline; others are served', async () => {
    const server = await app(echo);
    const port = await balance(server, { timeouts: { clientHeadersMs: 1_500 } });
    const slow = await sockets(port, 1_000);
    // A hundred of them first send a request with a body, so that Node's server reads them.
    for (const s of slow.slice(0, 100)) s.write('POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nb');
    const head = 'GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ';
    let i = 0;
    // A byte per socket per round, until every socket was closed by the balancer (bounded).
    const trickle = setInterval(() => {
      for (const s of slow) if (!s.closedByPeer) s.write(head[i % head.length]!);
      i++;
    }, 50);
    closers.push(() => clearInterval(trickle));
    await wellBehaved(port, 20);
    await waitFor(() => slow.every((s) => s.closedByPeer), {
      timeoutMs: 20_000,
      what: 'every slow head closed',
    });
    clearInterval(trickle);
    await wellBehaved(port, 5);
    await waitFor(async () => (await gauge('unpinned_lb_client_connections')) <= 1, {
      what: 'connections released',
    });
  });
});

describe('idle keep-alive connections', () => {
  it('2,000 of them: the others are served, and all are closed at the keep-alive timeout', async () => {
    const server = await app(echo);
    const port = await balance(server, { timeouts: { clientKeepAliveMs: 3_000 } });
    const idle = await sockets(port, 2_000);
    let answered = 0;
    for (const s of idle) {
      s.on('data', () => answered++);
      s.write('GET /once HTTP/1.1\r\nHost: x\r\n\r\n');
    }
    await waitFor(() => answered >= 2_000, { timeoutMs: 20_000, what: 'one answer each' });
    await wellBehaved(port, 20);
    await waitFor(() => idle.every((s) => s.closedByPeer), { timeoutMs: 20_000, what: 'idle ones closed' });
    await waitFor(async () => (await gauge('unpinned_lb_client_connections')) <= 1, {
      what: 'connections released',
    });
  });
});

describe('uploads', () => {
  it('a stalled upload gets 408 and its upload to the server stops; a slow steady one completes', async () => {
    const aborted: string[] = [];
    const completed: string[] = [];
    const server = await app((req, res) => {
      let body = '';
      req.setEncoding('latin1');
      req.on('data', (c: string) => {
        body += c;
      });
      req.on('aborted', () => aborted.push(req.url!));
      req.on('end', () => {
        completed.push(`${req.url} ${body.length}`);
        res.end('ok');
      });
    });
    const port = await balance(server, { timeouts: { clientBodyMs: 3_000, clientSendMs: 60_000 } });
    const [stalled, steady] = await sockets(port, 2);
    let stalledAnswer = '';
    stalled!.setEncoding('latin1').on('data', (c: string) => {
      stalledAnswer += c;
    });
    stalled!.write('POST /stalled HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789');
    let steadyAnswer = '';
    steady!.setEncoding('latin1').on('data', (c: string) => {
      steadyAnswer += c;
    });
    steady!.write('POST /steady HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n');
    // One byte every 300 ms: slow, but never a pause near clientBodyMs (ten times as long).
    for (let i = 0; i < 12; i++) {
      await new Promise((resolve) => setTimeout(resolve, 300));
      steady!.write('x');
    }
    await waitFor(() => stalled!.closedByPeer, { what: 'the stalled upload closed' });
    expect(stalledAnswer).toMatch(/^HTTP\/1\.1 408 /);
    expect(stalledAnswer).toContain('UNPINNED_ERR_LB_CLIENT_TIMEOUT');
    await waitFor(() => aborted.includes('/stalled'), { what: 'the server request aborted' });
    await waitFor(() => steadyAnswer.includes('ok'), { what: 'the steady upload answered' });
    expect(completed).toEqual(['/steady 12']);
    await wellBehaved(port, 5);
  });

  it('a client that vanishes mid-body: the server request is aborted, nothing stays in flight', async () => {
    const aborted: string[] = [];
    let received = 0;
    const server = await app((req, res) => {
      received++;
      req.resume();
      req.on('aborted', () => aborted.push(req.url!));
      req.on('end', () => res.end('ok'));
    });
    const port = await balance(server);
    const gone = await sockets(port, 50);
    for (const s of gone) s.write('POST /gone HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\npartial');
    await waitFor(() => lb!.backends()[0]!.inFlight === 50, { what: 'fifty uploads in flight' });
    // Forwarded is not yet received: only a request the server has can be aborted on it.
    await waitFor(() => received === 50, { what: 'the server to have all fifty requests' });
    for (const s of gone) s.destroy();
    await waitFor(() => aborted.length === 50, { what: 'the server requests aborted' });
    await waitFor(() => lb!.backends()[0]!.inFlight === 0, { what: 'nothing in flight' });
    await wellBehaved(port, 5);
  });
});

describe('responses to clients that do not read them', () => {
  /** A server that streams `total` bytes and counts what it managed to write. */
  async function streamer(total: number) {
    const state = { written: 0, finished: 0, closedEarly: 0 };
    const server = await app((req, res) => {
      req.resume();
      if (!req.url!.startsWith('/big')) return void res.end('ok');
      const chunk = Buffer.alloc(64 * 1024, 'z');
      res.writeHead(200, { 'content-length': total });
      const pump = () => {
        while (state.written < total) {
          state.written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      res.on('finish', () => state.finished++);
      res.on('close', () => {
        if (!res.writableFinished) state.closedEarly++;
      });
      pump();
    });
    return { server, state };
  }

  it('a client that stops reading is cut off after clientSendMs; the server is held back meanwhile', async () => {
    const total = 64 * 1024 * 1024;
    const { server, state } = await streamer(total);
    const port = await balance(server, { timeouts: { clientSendMs: 1_000 } });
    const [reader] = await sockets(port, 1);
    reader!.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
    reader!.pause(); // never reads a byte
    // (A paused socket never sees its end: the balancer's own count says it was cut off.)
    await waitFor(async () => (await gauge('unpinned_lb_client_connections')) === 0, {
      what: 'the non-reading client cut off',
    });
    await waitFor(() => state.closedEarly === 1, { what: 'the server response abandoned' });
    // Backpressure held: the server wrote only what socket buffers hold, not 64 MiB.
    expect(state.written).toBeLessThan(total / 4);
    expect(state.finished).toBe(0);
    await waitFor(() => lb!.backends()[0]!.inFlight === 0, { what: 'nothing in flight' });
    await wellBehaved(port, 5);
  });

  it('a client that vanishes mid-response frees its server connection', async () => {
    const { server, state } = await streamer(64 * 1024 * 1024);
    const port = await balance(server);
    const [reader] = await sockets(port, 1);
    let received = 0;
    reader!.on('data', (c: Buffer) => {
      received += c.length;
      if (received > 1024 * 1024) reader!.destroy();
    });
    reader!.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor(() => state.closedEarly === 1, { what: 'the server response abandoned' });
    await waitFor(() => lb!.backends()[0]!.inFlight === 0, { what: 'nothing in flight' });
    await wellBehaved(port, 5);
  });
});

describe('WebSocket peers that stop reading', () => {
  it('a tunnel in which nothing moves for tunnelIdleMs is closed; the flooding server is held back', async () => {
    const server = createServer((_req, res) => void res.writeHead(426).end());
    const wss = new WebSocketServer({ server });
    let sent = 0;
    let serverClosed = false;
    wss.on('connection', (ws) => {
      const frame = Buffer.alloc(64 * 1024, 'w');
      const flood = () => {
        // Bounded: stop at 256 MiB or when the socket pushes back.
        while (sent < 256 * 1024 * 1024 && ws.readyState === ws.OPEN && ws.bufferedAmount < 1024 * 1024) {
          ws.send(frame);
          sent += frame.length;
        }
        if (ws.readyState === ws.OPEN && sent < 256 * 1024 * 1024) setTimeout(flood, 20);
      };
      ws.on('close', () => {
        serverClosed = true;
      });
      flood();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    closers.push(() => {
      wss.close();
      server.closeAllConnections();
      server.close();
    });
    const port = await balance(server, { timeouts: { tunnelIdleMs: 1_000 } });
    const [peer] = await sockets(port, 1);
    peer!.write(
      'GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    await once(peer!, 'data'); // the 101 and perhaps some frames
    peer!.pause(); // then it stops reading
    await waitFor(() => lb!.backends()[0]!.tunnels === 1, { what: 'the tunnel open' });
    await waitFor(async () => (await gauge('unpinned_lb_client_connections')) === 0 && serverClosed, {
      what: 'the idle tunnel closed on both sides',
    });
    expect(lb!.backends()[0]!.tunnels).toBe(0);
    expect(sent).toBeLessThan(64 * 1024 * 1024);
  });
});

describe('limits.maxConnections', () => {
  it('connections past the cap are closed on arrival and counted; the cap frees as others close', async () => {
    const server = await app(echo);
    const port = await balance(server, { limits: { maxConnections: 50 } });
    const held = await sockets(port, 50);
    await waitFor(async () => (await gauge('unpinned_lb_client_connections')) === 50, { what: 'fifty open' });
    const extra = await sockets(port, 10);
    await waitFor(() => extra.every((s) => s.closedByPeer), { what: 'the extra ten closed' });
    expect(await gauge('unpinned_lb_connections_dropped_total')).toBe(10);
    for (const s of held) s.destroy();
    await waitFor(async () => (await gauge('unpinned_lb_client_connections')) === 0, {
      what: 'the fifty released',
    });
    await wellBehaved(port, 5);
  });
});
