/**
 * Draining under load: a bounded run of a few thousand requests from several concurrent
 * clients while one server is drained half-way. No request may fail, the drained server must
 * end with nothing in flight and get no request once its drain resolved, and clients whose
 * keep-alive connection was served by the draining server get that connection closed cleanly.
 */
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Balancer, createBalancer } from '../../src/balancer/index.js';
import { startBackends, type TestBackend } from '../helpers/backends.js';
import { send } from '../helpers/client.js';
import { waitFor } from '../helpers/wait-for.js';

describe('drain', () => {
  let servers: TestBackend[];
  let lb: Balancer;
  let base: string;

  beforeAll(async () => {
    servers = await startBackends(['a', 'b', 'c']);
    for (const s of servers) {
      // Answer on the next turn of the event loop so requests overlap and stay in flight.
      s.handler = (_req, res) =>
        void setImmediate(() => res.writeHead(200, { 'x-backend': s.name }).end(s.name));
    }
    lb = createBalancer({
      backends: servers.map((s) => ({ url: s.url, id: s.name })),
      strategy: 'least-connections',
    });
    base = `http://127.0.0.1:${(await lb.listen(0, '127.0.0.1')).port}`;
  });
  afterAll(async () => {
    await lb.close();
    await Promise.all(servers.map((s) => s.stop()));
  });

  it('loses no request while a server drains mid-run', async () => {
    const total = 3000;
    const concurrency = 16;
    const deadline = Date.now() + 60_000; // a bound on the run, not a performance claim
    const dispatcher = new Agent({ connections: concurrency });
    let issued = 0;
    let failed = 0;
    let drainDone: Promise<void> | undefined;
    let receivedByBAtDrain = -1;
    const client = async () => {
      while (issued < total && Date.now() < deadline) {
        issued++;
        if (issued === total / 2) {
          drainDone = lb.drain('b').then(() => {
            receivedByBAtDrain = servers[1]!.received.length;
          });
        }
        try {
          const reply = await send(`${base}/`, { dispatcher });
          if (reply.status !== 200) failed++;
        } catch {
          failed++;
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, client));
    await drainDone;
    await dispatcher.close();
    expect(issued).toBe(total);
    expect(failed).toBe(0);
    // Once drain() resolved, b never received another request.
    expect(receivedByBAtDrain).toBeGreaterThan(0);
    expect(servers[1]!.received.length).toBe(receivedByBAtDrain);
    const b = lb.backends().find((s) => s.id === 'b')!;
    expect(b.state).toBe('draining');
    expect(b.inFlight).toBe(0);
    expect(b.requests).toBeGreaterThan(0); // it did take load before the drain
    expect(servers[1]!.inFlight).toBe(0);
    lb.undrain('b');
  });

  it('closes a keep-alive client connection after a response from a draining server', async () => {
    const [a, b] = servers as [TestBackend, TestBackend];
    const lb2 = createBalancer({ backends: [a.url, b.url], strategy: 'round-robin' });
    const { port } = await lb2.listen(0, '127.0.0.1');
    const agent = new HttpAgent({ keepAlive: true, maxSockets: 1 });
    let release: (() => void) | undefined;
    const saved = a.handler;
    a.handler = (_req, res) => {
      release = () => res.writeHead(200, { 'x-backend': 'a' }).end('a');
    };
    const get = () =>
      new Promise<{ body: string; connection: string | undefined; socketClosed: Promise<void> }>(
        (resolve, reject) => {
          const req = httpRequest({ port, host: '127.0.0.1', path: '/', agent }, (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => {
              body += c;
            });
            const socketClosed = new Promise<void>((r) => res.socket.once('close', () => r()));
            res.on('end', () => resolve({ body, connection: res.headers.connection, socketClosed }));
          });
          req.on('error', reject);
          req.end();
        },
      );
    const pending = get(); // round-robin: goes to a, which holds it
    await waitFor(() => a.inFlight === 1 && release !== undefined, { message: 'request held by a' });
    const drained = lb2.drain(a.url.slice(7));
    release!();
    const first = await pending;
    expect(first.body).toBe('a');
    expect(first.connection).toBe('close'); // the draining server's client is told to reconnect
    await first.socketClosed; // and the connection really closes, after a complete response
    await drained;
    expect(lb2.backends()[0]!.inFlight).toBe(0);
    const second = await get(); // a new connection, rebalanced to b
    expect(second.body).toBe('b');
    expect(second.connection).toBe('keep-alive');
    a.handler = saved;
    agent.destroy();
    await lb2.close();
  });
});
