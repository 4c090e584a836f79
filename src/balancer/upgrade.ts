/**
 * Protocol upgrades (WebSocket, RFC 6455 §4.1 over RFC 9110 §7.8,
 * https://www.rfc-editor.org/rfc/rfc9110#section-7.8): the request is forwarded with the same
 * header rules as any other, and once the server answers 101 the two sockets are spliced. A
 * server that declines (any other status) has its answer relayed and both connections closed:
 * neither ever carries another request. An open tunnel counts against its server (`tunnels`)
 * until either side closes it.
 *
 * An upgrade request that declares a body (h2c offers from `curl --http2 -d`, or an attack) is
 * not relayed as an upgrade: Node hands it over before reading the body, and a request forwarded
 * with its Content-Length but not its body would make the next bytes on that server connection
 * its body (request smuggling). It is re-read by Node's server as a plain request without the
 * upgrade offer (which RFC 9110 §7.8 lets any recipient ignore), so its body goes whole.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Backend } from './backend.js';
import { type Core, makePickContext, pickBackend } from './core.js';
import { buildResponseHeaders, buildUpstreamHeaders } from './headers.js';
import { FrameBoundary, type LongLived, serviceRestartFrame } from './long-lived.js';
import { declaresBody, refuseHead, withoutUpgrade } from './request-head.js';
import { sendRawError, writeRawError } from './responses.js';
import type { UpstreamHandler } from './upstream/pool.js';

function isWebSocket(rawHeaders: string[]): boolean {
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() === 'upgrade') return rawHeaders[i + 1]!.toLowerCase() === 'websocket';
  }
  return false;
}

export function relayUpgrade(core: Core, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  if (declaresBody(req)) {
    const plain = Buffer.from(withoutUpgrade(req), 'latin1');
    return void core.handToNode(socket as Socket, Buffer.concat([plain, head]));
  }
  socket.on('error', () => socket.destroy());
  if (core.closing)
    return void sendRawError(socket as never, 'UNPINNED_ERR_LB_SHUTTING_DOWN', 'Balancer closing');
  const refused = refuseHead(req, core.settings.maxHeaderCount);
  if (refused) return void writeRawError(socket as never, refused);
  const { headers, clientIp } = buildUpstreamHeaders(req, core.forwarding);
  const tried = new Set<Backend>();
  const pick = makePickContext(core, req, clientIp, tried);
  const attempt = (): void => {
    const backend = pickBackend(core, pick);
    if (!backend)
      return void sendRawError(
        socket as never,
        'UNPINNED_ERR_LB_UPGRADE_FAILED',
        'No server for the upgrade',
      );
    tried.add(backend);
    const handler = new UpgradeHandler(core, socket, head, backend, () => {
      if (tried.size < core.settings.retry.maxAttempts) attempt();
      else
        sendRawError(socket as never, 'UNPINNED_ERR_LB_UPGRADE_FAILED', `Server ${backend.id} unreachable`);
    });
    backend.pool.dispatch(
      {
        path: req.url ?? '/',
        method: req.method ?? 'GET',
        headers,
        body: null,
        upgrade: req.headers.upgrade ?? 'websocket',
      },
      handler,
    );
  };
  attempt();
}

class UpgradeHandler implements UpstreamHandler {
  #sent = false;
  #answered = false;

  constructor(
    readonly core: Core,
    readonly client: Duplex,
    readonly head: Buffer,
    readonly backend: Backend,
    readonly retry: () => void,
  ) {}

  onConnect(): void {
    this.#sent = true;
  }

  onUpgrade(statusCode: number, raw: string[], upstream: Socket, upstreamHead: Buffer): void {
    const { client, backend } = this;
    this.#answered = true;
    if (client.destroyed) {
      // The client left while the server was answering: no tunnel to open (and none to count).
      upstream.destroy();
      return;
    }
    let head = `HTTP/1.1 ${statusCode} Switching Protocols\r\n`;
    for (let i = 0; i < raw.length; i += 2) head += `${raw[i]}: ${raw[i + 1]}\r\n`;
    const servedBy = this.core.settings.servedByHeader;
    if (servedBy) head += `${servedBy}: ${backend.id}\r\n`;
    client.write(`${head}\r\n`, 'latin1');
    // Bytes the server sent right after its 101 (a first frame) go out after the head.
    if (upstreamHead.length > 0) client.write(upstreamHead);
    if (this.head.length > 0) upstream.write(this.head);
    backend.tunnels++;
    this.core.tunnels.add(client);
    this.core.active++;
    let closed = false;
    let finTimer: NodeJS.Timeout | undefined;
    const websocket = isWebSocket(raw);
    const frames = websocket ? new FrameBoundary() : undefined;
    if (frames) upstream.on('data', (chunk: Buffer) => frames.feed(chunk));
    const longLived: LongLived = {
      end: () => {
        if (!frames) return close();
        // Only between two of the server's frames; a frame half sent cannot be cut.
        let tries = 0;
        const attempt = () => {
          if (closed) return;
          if (!frames.atBoundary) {
            if (++tries > 20) return close();
            return void setTimeout(attempt, 10).unref();
          }
          upstream.unpipe(client);
          client.unpipe(upstream);
          upstream.destroy();
          client.end(serviceRestartFrame());
          // The client answers with its own close frame and closes; it has tunnelFinMs to.
          onEnd();
        };
        attempt();
      },
    };
    backend.longLived.add(longLived);
    const close = () => {
      if (closed) return;
      closed = true;
      backend.longLived.delete(longLived);
      clearTimeout(finTimer);
      client.destroy();
      upstream.destroy();
      backend.tunnels--;
      this.core.tunnels.delete(client);
      if (backend.inFlight === 0 && backend.tunnels === 0) backend.onIdle?.();
      this.core.active--;
      if (this.core.active === 0) this.core.onIdle?.();
    };
    // One side finished sending (FIN): the other gets `timeouts.tunnelFinMs` to finish too, then
    // the tunnel is closed (HAProxy's `timeout client-fin` / `server-fin`), so a peer that left
    // without closing its end cannot hold a tunnel, and a shutdown, open forever.
    function onEnd() {
      finTimer ??= setTimeout(close, fin).unref();
    }
    const fin = this.core.settings.timeouts.tunnelFinMs;
    // No byte moved on a side for `timeouts.tunnelIdleMs` (HAProxy `timeout tunnel`): a peer
    // that stopped reading, with everything queued for it, holds the tunnel no longer.
    const idleMs = this.core.settings.timeouts.tunnelIdleMs;
    for (const s of [client, upstream]) {
      s.on('end', onEnd);
      s.on('error', close);
      s.on('close', close);
      (s as Socket).setTimeout(idleMs, close);
    }
    // A side may have finished before the tunnel existed (a client that left while the server
    // was still answering): its 'end' has already been emitted.
    if (client.readableEnded || upstream.readableEnded) onEnd();
    upstream.pipe(client);
    client.pipe(upstream);
  }

  // The server declined the upgrade: relay its answer, then close (the client wanted a tunnel).
  onHeaders(statusCode: number, rawHeaders: string[], _resume: () => void, statusText: string): boolean {
    this.#answered = true;
    const headers = buildResponseHeaders(rawHeaders, [['connection', 'close']]);
    let head = `HTTP/1.1 ${statusCode} ${statusText}\r\n`;
    for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
    this.client.write(`${head}\r\n`, 'latin1');
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.client.write(chunk);
    return true;
  }

  onComplete(): void {
    this.client.end();
  }

  onError(err: Error): void {
    if (this.#answered) {
      this.client.destroy(err);
      return;
    }
    this.core.members.recordFailure(this.backend);
    if (!this.#sent) return void this.retry();
    sendRawError(
      this.client as never,
      'UNPINNED_ERR_LB_UPGRADE_FAILED',
      `Server ${this.backend.id}: ${err.message}`,
    );
  }
}
