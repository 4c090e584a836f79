import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { type Balancer, createBalancer } from '../../src/balancer/index.js';
import { waitFor } from '../helpers/wait-for.js';

describe('WebSocket through the balancer', () => {
  const servers: Server[] = [];
  let lb: Balancer;
  let base: string;

  beforeAll(async () => {
    for (const name of ['a', 'b']) {
      const server = createServer((_req, res) => void res.writeHead(426).end('websocket only'));
      const wss = new WebSocketServer({ server, path: '/echo' });
      wss.on('connection', (ws, req) => {
        ws.send(`hello from ${name} for ${req.headers['x-forwarded-for']}`);
        ws.on('message', (data, isBinary) => ws.send(isBinary ? data : `${name}:${data.toString()}`));
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      servers.push(server);
    }
    lb = createBalancer({
      backends: servers.map((s, i) => ({
        url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`,
        id: ['a', 'b'][i]!,
      })),
      strategy: 'round-robin',
      servedByHeader: true,
    });
    base = `ws://127.0.0.1:${(await lb.listen(0, '127.0.0.1')).port}`;
  });
  afterAll(async () => {
    await lb.close();
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  });

  async function open(
    path: string,
  ): Promise<{ ws: WebSocket; messages: string[]; servedBy: string | undefined }> {
    const ws = new WebSocket(`${base}${path}`);
    const messages: string[] = [];
    ws.on('message', (d) => messages.push(d.toString()));
    let servedBy: string | undefined;
    ws.on('upgrade', (res) => {
      servedBy = res.headers['x-served-by'] as string | undefined;
    });
    await once(ws, 'open');
    return { ws, messages, servedBy };
  }

  it('echoes text and binary frames both ways, and tracks the tunnel', async () => {
    const { ws, messages, servedBy } = await open('/echo');
    expect(servedBy).toBe('a');
    await waitMessages(messages, 1);
    expect(messages[0]).toBe('hello from a for 127.0.0.1');
    ws.send('ping');
    ws.send(Buffer.from([1, 2, 3]), { binary: true });
    await waitMessages(messages, 3);
    expect(messages[1]).toBe('a:ping');
    expect(Buffer.from(messages[2]!, 'latin1')).toEqual(Buffer.from([1, 2, 3]));
    expect(lb.backends().find((b) => b.id === 'a')!.tunnels).toBe(1);
    ws.close();
    await once(ws, 'close');
    await waitFor(() => lb.backends().find((b) => b.id === 'a')!.tunnels === 0, { message: 'tunnel closed' });
  });

  it('balances upgrades like requests, and relays a refused upgrade', async () => {
    const second = await open('/echo');
    expect(second.servedBy).toBe('b');
    second.ws.close();
    const refused = new WebSocket(`${base}/not-a-socket`);
    refused.on('error', () => {}); // ws reports the refused handshake as an error too
    const [, res] = (await once(refused, 'unexpected-response')) as [unknown, { statusCode: number }];
    expect(res.statusCode).toBe(400);
    refused.terminate();
  });
});

describe('shutdown with an open tunnel', () => {
  it('close() waits up to shutdownMs, then cuts the tunnel', async () => {
    const server = createServer();
    const wss = new WebSocketServer({ server });
    wss.on('connection', (ws) => ws.send('hi'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const lb2 = createBalancer({
      backends: [`http://127.0.0.1:${(server.address() as AddressInfo).port}`],
      timeouts: { shutdownMs: 50 },
    });
    const ws = new WebSocket(`ws://127.0.0.1:${(await lb2.listen(0, '127.0.0.1')).port}/`);
    ws.on('error', () => {});
    await once(ws, 'message');
    const closed = once(ws, 'close');
    await lb2.close();
    await closed; // the client saw its tunnel end instead of hanging on a closed balancer
    await waitFor(() => lb2.backends()[0]!.tunnels === 0, { message: 'tunnel count back to 0' });
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
});

async function waitMessages(messages: string[], n: number): Promise<void> {
  await waitFor(() => messages.length >= n, { message: `${n} WebSocket messages` });
}

describe('WebSocket tunnel one side of which has gone', () => {
  it('is closed tunnelFinMs after that side finished, so nothing stays counted', async () => {
    // A server that answers 101 when told and then never closes its end.
    let answer: (() => void) | undefined;
    let upgraded: { destroy(): void } | undefined;
    const server = createServer();
    server.on('upgrade', (_req, socket) => {
      upgraded = socket;
      socket.on('error', () => {});
      answer = () =>
        socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    // Shutdown would wait far longer than the test's own timeout if the tunnel stayed counted.
    const lb = createBalancer({
      backends: [`http://127.0.0.1:${(server.address() as AddressInfo).port}`],
      timeouts: { shutdownMs: 600_000, tunnelFinMs: 100 },
    });
    const { port } = await lb.listen(0, '127.0.0.1');
    const client = connect(port, '127.0.0.1');
    await once(client, 'connect');
    client.write(
      'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    await waitFor(() => answer !== undefined, { what: 'the upgrade at the server' });
    client.destroy(); // the client leaves before the server switched protocols
    answer!();
    await waitFor(() => lb.backends()[0]!.tunnels === 1, { what: 'the tunnel to open' });
    await waitFor(() => lb.backends()[0]!.tunnels === 0, { what: 'the half-closed tunnel to close' });
    await lb.close();
    upgraded!.destroy(); // upgraded sockets are not closed by closeAllConnections()
    await new Promise((r) => server.close(r));
  });
});
