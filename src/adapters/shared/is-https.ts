import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';

/** Whether a node request came over HTTPS: a TLS socket, or (only when trusted) the nearest proxy's X-Forwarded-Proto. */
export function isHttps(req: IncomingMessage, trustProxy = false): boolean {
  if ((req.socket as TLSSocket).encrypted) return true;
  if (!trustProxy) return false;
  // The proxy nearest to us appended last: https://www.rfc-editor.org/rfc/rfc7239#section-5.4
  const proto = req.headers['x-forwarded-proto'];
  const last = (Array.isArray(proto) ? proto.join(',') : (proto ?? '')).split(',').pop();
  return last?.trim().toLowerCase() === 'https';
}
