/**
 * Long-lived connections do not hold a drain or a shutdown forever, and are ended with a
 * reconnect hint: WebSocket close 1012 (service restart) written by the balancer between two
 * of the server's frames, event streams `retry:` then a clean end. Before, drain() waited for
 * them forever and close() cut them (1006).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { type Balancer, createBalancer } from '../../src/balancer/index.js';
import { waitFor } from '../helpers/wait.js';

/** A server that holds an event stream and a WebSocket open and never ends either itself. */
async function holdingServer(): Promise<{ url: string; server: Server }> {
  const wss = new WebSocketServer({ noServer: true });
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('retry: 5000\n\ndata: one\n\n');
  });
  server.on('upgrade', (req, socket, head) =>
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.send('x'.repeat(200));
      ws.send('hello');
    }),
  );
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe('drain and close with long-lived connections', () => {
  let lb: Balancer | undefined;
  let backend: Server | undefined;
  afterEach(async () => {
    await lb?.close();
    backend?.closeAllConnections();
    backend?.close();
  });

  async function open() {
    const held = await holdingServer();
    backend = held.server;
    lb = createBalancer({ backends: [{ url: held.url, id: 'a' }], timeouts: { shutdownMs: 2000 } });
    const base = `127.0.0.1:${(await lb.listen(0, '127.0.0.1')).port}`;
    const stream = await fetch(`http://${base}/`, { headers: { accept: 'text/event-stream' } });
    const ws = new WebSocket(`ws://${base}/`);
    const frames: string[] = [];
    ws.on('message', (m) => frames.push(String(m)));
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    await waitFor(() => frames.length === 2, { what: 'the frames' });
    const text = (async () => {
      let all = '';
      for await (const chunk of stream.body!) all += Buffer.from(chunk).toString();
      return all;
    })();
    return { closed, text, frames };
  }

  it('drain ends them after its deadline: 1012 to the WebSocket, retry: then end to the event stream', async () => {
    const { closed, text, frames } = await open();
    await lb!.drain('a', { deadlineMs: 50, windowMs: 50 });
    expect(await closed).toBe(1012);
    expect(frames).toEqual(['x'.repeat(200), 'hello']);
    expect(await text).toMatch(/^retry: 5000\n\ndata: one\n\nretry: \d+\n\n$/);
  });

  it('close ends them the same way instead of cutting them', async () => {
    const { closed, text } = await open();
    await lb!.close();
    expect(await closed).toBe(1012);
    expect(await text).toMatch(/data: one\n\nretry: \d+\n\n$/);
  });
});
