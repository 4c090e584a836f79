/**
 * Bookkeeping of the client connections that Node's HTTP server reads (the client side's
 * reader hands it everything unusual, downstream.ts): what ends them, and what is answered when
 * Node's parser fails on one (request smuggling,
 * https://www.rfc-editor.org/rfc/rfc9112#section-11.2: conflicting framing, bad chunking,
 * oversized heads; these never reach a server).
 *
 * The failure may come after requests on the same connection that were read whole and are
 * running: a client that pipelines, or sends bytes after `Connection: close` or an HTTP/1.0
 * request. Those requests ran, so they are answered; only what could not be read is refused,
 * after them. Answering 400 at once (Node's own default when no response byte left yet) would
 * tell the client that a request the server executed failed, and a retry would run it twice.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { type BalancerError, balancerError } from './errors.js';
import { refuseRunning } from './proxy.js';
import { writeRawError } from './responses.js';

export class NodeSide {
  /** The last response started on each connection Node's server reads. */
  readonly #last = new WeakMap<Socket, ServerResponse>();
  /** Connections that an earlier request ends: requests read after it are not served. */
  readonly #ending = new WeakSet<Socket>();

  constructor(readonly clientBodyMs: number) {}

  /**
   * Node's server saw no traffic on `socket` for the balancer's stall time (`server.timeout`,
   * the shorter of `clientSendMs` and `clientBodyMs`). A client that takes none of what is
   * queued for it is cut off (nginx `send_timeout`); one that stopped sending a request body
   * the balancer was ready to read gets 408 (nginx `client_body_timeout`). Anything else (an
   * idle keep-alive connection, a request waiting for its server) is left to its own timers.
   */
  onStall(socket: Socket): void {
    if (socket.writableLength > 0) return void socket.destroy();
    const last = this.#last.get(socket);
    // readableFlowing is true only while the body is being read and not held back by the
    // server side (an upload the server is slow to take is not the client's fault).
    if (last && !last.writableEnded && !last.req.complete && last.req.readableFlowing === true) {
      const error = balancerError(
        'UNPINNED_ERR_LB_CLIENT_TIMEOUT',
        `No request body bytes for ${this.clientBodyMs} ms`,
      );
      if (!refuseRunning(last, error)) socket.destroy();
    }
  }

  /**
   * Called for every request Node's server reads; false when it must not be forwarded (its
   * connection ends after an earlier request, so it would run and never be answered).
   */
  admit(req: IncomingMessage, res: ServerResponse): boolean {
    const socket = req.socket;
    if (this.#ending.has(socket)) return false;
    this.#last.set(socket, res);
    // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 request means faulty framing: answer it,
    // then close the connection, serving nothing read after it (Node's parser would keep a
    // keep-alive one open and read on).
    if (req.httpVersionMinor === 0 && req.headers['transfer-encoding'] !== undefined) {
      res.shouldKeepAlive = false;
      this.#ending.add(socket);
    }
    return true;
  }

  /** Node's `clientError` event. */
  handle(err: NodeJS.ErrnoException, socket: Socket): void {
    if (err.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
    const last = this.#last.get(socket);
    if (last === undefined) return void refuse(err, socket);
    // Bytes after a request that closes the connection are not requests (RFC 9112 §9.6: "MUST
    // NOT process any further requests received on that connection"): nothing to answer; the
    // running response closes the connection when it is done.
    if (err.code === 'HPE_CLOSED_CONNECTION') {
      if (last.writableFinished) socket.destroy();
      return;
    }
    if (!last.req.complete) {
      // The failure is in the last request's own body: refuse that request (in its turn among
      // the pipelined answers), or, once it was answered, end the connection after the answer.
      if (refuseRunning(last, badRequest(err))) return;
      return void afterResponse(last, () => socket.destroy());
    }
    // The last request was read whole and may still run: answer it, then refuse the rest.
    afterResponse(last, () => refuse(err, socket));
  }
}

/** Runs `then` once `res` has left the process; a response that was cut ends the connection. */
function afterResponse(res: ServerResponse, then: () => void): void {
  if (res.writableFinished) {
    then();
    return;
  }
  res.once('finish', then);
  res.once('close', () => {
    if (!res.writableFinished) res.socket?.destroy();
  });
}

function badRequest(err: NodeJS.ErrnoException): BalancerError {
  if (err.code === 'HPE_HEADER_OVERFLOW')
    return balancerError('UNPINNED_ERR_LB_HEADERS_TOO_LARGE', 'Request headers too large');
  return balancerError('UNPINNED_ERR_LB_BAD_REQUEST', `Malformed request (${err.code ?? err.message})`);
}

function refuse(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'HPE_CLOSED_CONNECTION')
    return void socket.destroy();
  writeRawError(socket, badRequest(err));
}
