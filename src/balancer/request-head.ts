/**
 * Checks of a request head that Node's parser lets through but a proxy must not forward, made
 * on every request read by Node's server (the client side's own reader hands such heads over
 * to it rather than deciding, so the answers come from here in both cases).
 *
 * - Several Host headers: the balancer would route on one while a server may read another
 *   (RFC 9112 §3.2: "a server MUST respond with a 400 ... to any HTTP/1.1 request message ...
 *   that contains more than one Host header field line",
 *   https://www.rfc-editor.org/rfc/rfc9112#section-3.2).
 * - More header fields than `limits.maxHeaderCount`: Node stops storing fields past
 *   `maxHeadersCount` and says nothing, so a request would go on without some of them
 *   (Content-Length among them, and the body with it). The server is told to keep one field
 *   more than the limit, which is how an excess is seen here.
 * - A Transfer-Encoding other than `chunked`: Node emits the request before it fails on such a
 *   body, so its head would be on the way to a server already. Chunked not last: RFC 9112 §6.3
 *   says 400 and close; other codings before it would be lost, since the body is forwarded
 *   de-chunked and re-chunked: 501, as nginx answers (RFC 9112 §6.1).
 */
import type { ClientRequest } from './downstream.js';
import { type BalancerError, balancerError } from './errors.js';
import { trimOws } from './upstream/parser.js';

/** Why the head must be refused (400/431), or undefined when it may be forwarded. */
export function refuseHead(
  req: Pick<ClientRequest, 'rawHeaders'>,
  maxHeaderCount: number,
): BalancerError | undefined {
  const raw = req.rawHeaders;
  if (raw.length > maxHeaderCount * 2) {
    return balancerError(
      'UNPINNED_ERR_LB_HEADERS_TOO_LARGE',
      `More than ${maxHeaderCount} header fields (limits.maxHeaderCount)`,
    );
  }
  let hosts = 0;
  let codings: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && name.toLowerCase() === 'host' && ++hosts > 1)
      return balancerError('UNPINNED_ERR_LB_BAD_REQUEST', 'More than one Host header');
    if (name.length === 17 && name.toLowerCase() === 'transfer-encoding')
      codings = codings === undefined ? raw[i + 1]! : `${codings},${raw[i + 1]!}`;
  }
  return codings === undefined ? undefined : refuseCodings(codings);
}

function refuseCodings(value: string): BalancerError | undefined {
  const list = value.split(',').map((c) => trimOws(c, 0, c.length).toLowerCase());
  if (list.length === 1 && list[0] === 'chunked') return undefined;
  if (list.at(-1) !== 'chunked')
    return balancerError(
      'UNPINNED_ERR_LB_BAD_REQUEST',
      `Transfer-Encoding "${value}" does not end in chunked`,
    );
  return balancerError(
    'UNPINNED_ERR_LB_UNSUPPORTED_CODING',
    `Transfer-Encoding "${value}": only chunked is supported`,
  );
}

/** The request says a body follows: any Transfer-Encoding, or a Content-Length other than 0. */
export function declaresBody(req: Pick<ClientRequest, 'rawHeaders'>): boolean {
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (name === 'transfer-encoding') return true;
    if (name === 'content-length' && raw[i + 1]!.trim() !== '0') return true;
  }
  return false;
}

/**
 * The head of an upgrade request re-written as a plain request: the Upgrade header and the
 * `upgrade` token of Connection removed, everything else as received. Node's parser reads the
 * result as an ordinary request with a body, so the body is forwarded whole.
 */
export function withoutUpgrade(
  req: Pick<ClientRequest, 'rawHeaders' | 'method' | 'url'> & { httpVersion: string },
): string {
  let head = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    let value = raw[i + 1]!;
    if (lower === 'upgrade') continue;
    // Node's parser reads Proxy-Connection as Connection.
    if (lower === 'connection' || lower === 'proxy-connection') {
      value = value
        .split(',')
        .map((t) => trimOws(t, 0, t.length))
        .filter((t) => t !== '' && t.toLowerCase() !== 'upgrade')
        .join(', ');
      if (value === '') continue;
    }
    head += `${name}: ${value}\r\n`;
  }
  return `${head}\r\n`;
}
