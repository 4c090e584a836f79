/**
 * Header rewriting for the proxy, both directions, in one pass over the raw header list.
 *
 * - Hop-by-hop headers are removed: the fixed list of RFC 9110 §7.6.1
 *   (https://www.rfc-editor.org/rfc/rfc9110#section-7.6.1) plus every name listed in Connection.
 *   Framing (Transfer-Encoding) is re-done by each hop, which is also what keeps a smuggled
 *   framing header from reaching the server.
 * - X-Forwarded-For/-Proto/-Host: from a trusted proxy, the chain is kept and extended; from
 *   anybody else, client-supplied X-Forwarded-* and Forwarded headers are dropped and rebuilt,
 *   so a client cannot forge its address (the same rule as nginx `set_real_ip_from`).
 * - `Expect` is dropped: Node's server already answered `100 Continue` to the client.
 */

import { BlockList, isIPv6 } from 'node:net';
import type { ClientRequest } from './downstream.js';
import { invalidOption } from './errors.js';
import { trimOws } from './upstream/parser.js';

const hopByHop = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
]);

const hopByHopLengths = new Set([...hopByHop].map((n) => n.length));

/** An upstream header that an added header replaces (Set-Cookie is appended instead). */
function isReplaced(name: string, extra: readonly (readonly [string, string])[]): boolean {
  const lower = name.toLowerCase();
  return lower !== 'set-cookie' && extra.some(([n]) => n === lower);
}

const forwarded = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'forwarded']);

/**
 * Addresses whose X-Forwarded-* headers are believed: single IPs or CIDR ranges, IPv4 or IPv6.
 *
 * @example
 * const trusted = new TrustedProxies(['127.0.0.1', '10.0.0.0/8']);
 */
export class TrustedProxies {
  readonly #list = new BlockList();
  readonly empty: boolean;

  constructor(entries: readonly string[]) {
    this.empty = entries.length === 0;
    for (const entry of entries) {
      const [address, bits] = entry.split('/');
      const type = isIPv6(address ?? '') ? 'ipv6' : 'ipv4';
      try {
        if (bits === undefined) this.#list.addAddress(address!, type);
        else this.#list.addSubnet(address!, Number(bits), type);
      } catch {
        throw invalidOption('trustedProxies', 'IP addresses or CIDR ranges such as 10.0.0.0/8', entry);
      }
    }
  }

  has(address: string): boolean {
    if (this.empty || !address) return false;
    return this.#list.check(address, isIPv6(address) ? 'ipv6' : 'ipv4');
  }
}

/** `::ffff:1.2.3.4` → `1.2.3.4`, so IPv4 rules match dual-stack sockets. */
export function normalizeAddress(address: string | undefined): string {
  if (!address) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

export interface ForwardingOptions {
  trusted: TrustedProxies;
  /** Add X-Forwarded-* at all (on by default). */
  forwardedHeaders: boolean;
  /** Protocol the client used to reach the balancer. */
  proto: 'http' | 'https';
  /** Cookie to remove before forwarding (sticky cookie, HAProxy `indirect`). */
  stripCookie: string | undefined;
}

export interface UpstreamHeaders {
  headers: string[];
  /** The client address: the socket peer, or from X-Forwarded-For when the peer is trusted. */
  clientIp: string;
}

/** Builds the header list to send upstream from `req.rawHeaders`. */
export function buildUpstreamHeaders(
  req: Pick<ClientRequest, 'rawHeaders' | 'socket'>,
  opts: ForwardingOptions,
): UpstreamHeaders {
  const raw = req.rawHeaders;
  const peer = normalizeAddress(req.socket.remoteAddress);
  const trustPeer = opts.trusted.has(peer);
  const out: string[] = [];
  let xff: string | undefined;
  let xfProto: string | undefined;
  let xfHost: string | undefined;
  let host: string | undefined;
  let connectionTokens: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    if (hopByHop.has(name)) {
      if (name === 'connection') connectionTokens = connectionTokens ? `${connectionTokens},${value}` : value;
      continue;
    }
    if (forwarded.has(name)) {
      if (!trustPeer) continue;
      if (name === 'x-forwarded-for') xff = xff ? `${xff}, ${value}` : value;
      else if (name === 'x-forwarded-proto') xfProto ??= value;
      else if (name === 'x-forwarded-host') xfHost ??= value;
      else out.push(name, value);
      continue;
    }
    if (name === 'host') host = value;
    if (name === 'cookie' && opts.stripCookie) {
      const kept = removeCookie(value, opts.stripCookie);
      if (kept) out.push(name, kept);
      continue;
    }
    // Lower-case names (HTTP field names are case-insensitive, RFC 9110 §5.1): the upstream
    // client finds Host and Content-Length among them with plain comparisons.
    out.push(name, value);
  }
  const headers = connectionTokens ? dropListed(out, connectionTokens) : out;
  const clientIp = trustPeer && xff ? rightmostUntrusted(xff, opts.trusted) || peer : peer;
  if (opts.forwardedHeaders) {
    // https://developer.mozilla.org/docs/Web/HTTP/Headers/X-Forwarded-For: each proxy appends its peer.
    headers.push('x-forwarded-for', xff ? `${xff}, ${peer}` : peer);
    headers.push('x-forwarded-proto', xfProto ?? opts.proto);
    if (xfHost !== undefined || host !== undefined) headers.push('x-forwarded-host', (xfHost ?? host)!);
  }
  return { headers, clientIp };
}

/** The response headers to send to the client: hop-by-hop removed, `extra` set (Set-Cookie appended). */
export function buildResponseHeaders(
  raw: readonly string[],
  extra: readonly (readonly [string, string])[] | undefined,
): string[] {
  const out: string[] = [];
  let connectionTokens: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    // Hot path: only names of a hop-by-hop length are lower-cased and looked up.
    if (hopByHopLengths.has(name.length)) {
      const lower = name.toLowerCase();
      if (hopByHop.has(lower)) {
        if (lower === 'connection')
          connectionTokens = connectionTokens ? `${connectionTokens},${value}` : value;
        continue;
      }
    }
    if (extra && isReplaced(name, extra)) continue;
    out.push(name, value);
  }
  if (extra) for (const [n, v] of extra) out.push(n, v);
  return connectionTokens ? dropListed(out, connectionTokens) : out;
}

/** Removes headers named in a Connection header value (RFC 9110 §7.6.1). */
function dropListed(headers: string[], tokens: string): string[] {
  // Hot path: almost every message says only "keep-alive" or "close", which name no header.
  const lower = tokens.toLowerCase();
  if (lower === 'keep-alive' || lower === 'close') return headers;
  const names = new Set(
    tokens
      .split(',')
      .map((t) => trimOws(t, 0, t.length).toLowerCase())
      .filter((t) => t && t !== 'close' && t !== 'keep-alive' && t !== 'upgrade'),
  );
  if (names.size === 0) return headers;
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    if (!names.has(headers[i]!.toLowerCase())) out.push(headers[i]!, headers[i + 1]!);
  }
  return out;
}

function rightmostUntrusted(chain: string, trusted: TrustedProxies): string | undefined {
  const hops = chain.split(',');
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = normalizeAddress(hops[i]!.trim());
    if (!trusted.has(hop)) return hop;
  }
  return hops[0]?.trim();
}

function removeCookie(header: string, name: string): string {
  return header
    .split(';')
    .filter((part) => {
      const eq = part.indexOf('=');
      return eq < 0 || part.slice(0, eq).trim() !== name;
    })
    .map((p) => p.trim())
    .join('; ');
}
