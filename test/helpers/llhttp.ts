/**
 * Node's own HTTP parser (llhttp, through `_http_common`'s HTTPParser), configured as Node's
 * server and client configure it: the oracle of the differential tests. What it reads is what
 * `node:http` reads, byte for byte, because it is the same parser with the same settings.
 */
import { createRequire } from 'node:module';

interface HttpParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(data: Buffer): number | Error;
  finish(): number | Error | undefined;
  close(): void;
  [key: number]: unknown;
}

const require = createRequire(import.meta.url);
const { HTTPParser, methods } = require('node:_http_common') as {
  HTTPParser: {
    new (): HttpParser;
    REQUEST: number;
    RESPONSE: number;
    kOnHeaders: number;
    kOnHeadersComplete: number;
    kOnBody: number;
    kOnMessageComplete: number;
    kLenientNone: number;
  };
  methods: string[];
};

export interface ParsedMessage {
  versionMinor: number;
  method: string;
  url: string;
  status: number;
  reason: string;
  rawHeaders: string[];
  upgrade: boolean;
  keepAlive: boolean;
  body: string;
  /** The message ended (its body framing was satisfied). */
  complete: boolean;
  /** Offset just after the message's last byte, when complete. */
  end: number;
}

export interface ParseResult {
  messages: ParsedMessage[];
  /** llhttp refused the bytes (its error code), after `messages`. */
  error: string | undefined;
  /** Offset of the error (bytes llhttp accepted before it). */
  errorAt: number;
}

/**
 * Parses `data` as Node's server (`'request'`) or client (`'response'`) reads it, in one
 * `execute` as a socket read would deliver it (feeding llhttp one byte at a time showed
 * spurious whitespace in values after many thousand parses, so offsets are found instead by
 * parsing prefixes). For responses, `head` says the request was HEAD (the body is skipped, as
 * Node's client skips it, and the body of 1xx responses too); `eof` means the connection
 * closed after `data` (a body read until close ends there).
 */
export function llhttpParse(
  data: Buffer,
  kind: 'request' | 'response',
  options: { maxHeaderSize?: number; head?: boolean; eof?: boolean } = {},
): ParseResult {
  const result = parseOnce(data, kind, options);
  // Each message's end: the shortest prefix that completes it (completion only grows with the
  // prefix); a body read until close completes only at the close.
  result.messages.forEach((message, i) => {
    if (!message.complete) return;
    const completes = (n: number) =>
      parseOnce(data.subarray(0, n), kind, { ...options, eof: false }).messages[i]?.complete;
    let lo = 1;
    let hi = data.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (completes(mid)) hi = mid;
      else lo = mid + 1;
    }
    message.end = completes(lo) ? lo : data.length;
  });
  return result;
}

function parseOnce(
  data: Buffer,
  kind: 'request' | 'response',
  options: { maxHeaderSize?: number; head?: boolean; eof?: boolean },
): ParseResult {
  const parser = new HTTPParser();
  parser.initialize(
    kind === 'request' ? HTTPParser.REQUEST : HTTPParser.RESPONSE,
    {},
    options.maxHeaderSize ?? 16_384,
    HTTPParser.kLenientNone,
  );
  const messages: ParsedMessage[] = [];
  let current: ParsedMessage | undefined;
  let pendingHeaders: string[] = [];
  parser[HTTPParser.kOnHeaders] = (headers: string[]) => {
    pendingHeaders.push(...headers);
  };
  parser[HTTPParser.kOnHeadersComplete] = (
    _major: number,
    minor: number,
    headers: string[] | undefined,
    method: number | undefined,
    url: string | undefined,
    status: number | undefined,
    reason: string | undefined,
    upgrade: boolean,
    keepAlive: boolean,
  ) => {
    current = {
      versionMinor: minor,
      method: method === undefined ? '' : (methods[method] ?? ''),
      url: url ?? '',
      status: status ?? 0,
      reason: reason ?? '',
      rawHeaders: [...pendingHeaders, ...(headers ?? [])],
      upgrade,
      keepAlive,
      body: '',
      complete: false,
      end: -1,
    };
    pendingHeaders = [];
    messages.push(current);
    // Node's client skips the body of a HEAD response and of an informational one.
    if (kind === 'response' && (options.head || (current.status >= 100 && current.status < 200))) return 1;
    return 0;
  };
  parser[HTTPParser.kOnBody] = (chunk: Buffer) => {
    if (current) current.body += chunk.toString('latin1');
  };
  parser[HTTPParser.kOnMessageComplete] = () => {
    if (current) current.complete = true;
  };
  let error: string | undefined;
  let errorAt = 0;
  const r = parser.execute(data);
  if (r instanceof Error) {
    error = (r as NodeJS.ErrnoException).code ?? r.message;
    errorAt = (r as { bytesParsed?: number }).bytesParsed ?? 0;
  } else if (options.eof && !current?.upgrade) {
    // A body read until close completes here, through kOnMessageComplete.
    const f = parser.finish();
    if (f instanceof Error) {
      error = (f as NodeJS.ErrnoException).code ?? f.message;
      errorAt = data.length;
    }
  }
  parser.close();
  return { messages, error, errorAt };
}
