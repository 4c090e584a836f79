/**
 * The balancer's own answers (502/503/504/4xx): short plain text that names the error code and
 * says what happened, plus `x-unpinned-error` so scripts and the lab can count them by code.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { ClientResponse } from './downstream.js';
import { type BalancerError, type BalancerErrorCode, balancerError } from './errors.js';

export function sendError(res: ClientResponse, error: BalancerError, close = false): void {
  if (res.headersSent || res.destroyed) {
    // The response already started: the only honest signal left is to cut the connection, so
    // the client sees a truncated response instead of a complete-looking short one.
    res.destroy(error);
    return;
  }
  const body = `${error.statusCode} ${STATUS_CODES[error.statusCode] ?? ''}: ${error.message}\n(${error.code})\n`;
  const headers: Record<string, string | number> = {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'x-unpinned-error': error.code,
    'cache-control': 'no-store',
  };
  if (error.statusCode === 503) headers['retry-after'] = '1';
  if (close) headers.connection = 'close';
  res.writeHead(error.statusCode, undefined, headers);
  res.end(body);
}

/** Answers on a raw socket (client errors before a request object exists, failed upgrades). */
export function sendRawError(socket: Socket, code: BalancerErrorCode, detail: string): void {
  writeRawError(socket, balancerError(code, detail));
}

/** Writes `error` as a whole response on a raw socket, then closes it. */
export function writeRawError(socket: Socket, error: BalancerError): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = `${error.statusCode} ${STATUS_CODES[error.statusCode] ?? ''}: ${error.message}\n(${error.code})\n`;
  socket.end(
    `HTTP/1.1 ${error.statusCode} ${STATUS_CODES[error.statusCode] ?? ''}\r\n` +
      'content-type: text/plain; charset=utf-8\r\n' +
      `content-length: ${Buffer.byteLength(body)}\r\n` +
      `x-unpinned-error: ${error.code}\r\nconnection: close\r\n\r\n${body}`,
  );
}
