/**
 * A TCP relay that delays every chunk by a fixed time in both directions: a
 * network link with latency, on loopback. Replicas that replicate through it
 * lag their master by about that much, as replicas in another zone do; cutting
 * it drops what is still in flight, as a master host that dies takes its
 * unsent buffers with it. Used to measure what a failover loses.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export class DelayLink {
  readonly port: number;
  #server: Server;
  #sockets = new Set<Socket>();

  private constructor(server: Server, port: number) {
    this.#server = server;
    this.port = port;
  }

  /** Listen on a free loopback port; each connection is relayed to `targetPort`. */
  static async open(targetPort: number, delayMs: number): Promise<DelayLink> {
    const sockets = new Set<Socket>();
    const server = createServer((inbound) => {
      const outbound = createConnection(targetPort, '127.0.0.1');
      for (const s of [inbound, outbound]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => {});
      }
      relay(inbound, outbound, delayMs);
      relay(outbound, inbound, delayMs);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const link = new DelayLink(server, (server.address() as { port: number }).port);
    link.#sockets = sockets;
    return link;
  }

  /** Cut the link: connections close at once, bytes still in flight are dropped. */
  async cut(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

function relay(from: Socket, to: Socket, delayMs: number): void {
  from.on('data', (chunk) => {
    setTimeout(() => {
      if (!to.destroyed) to.write(chunk);
    }, delayMs);
  });
  from.on('close', () => setTimeout(() => to.destroy(), delayMs));
}
