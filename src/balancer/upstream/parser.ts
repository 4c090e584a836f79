/**
 * An incremental HTTP/1.1 response parser for the upstream client (RFC 9112,
 * https://www.rfc-editor.org/rfc/rfc9112). It is strict where leniency lets a response be read two
 * ways (the root of response splitting and desync): bare CR or LF, obs-fold, whitespace before a
 * colon, control characters, both Content-Length and Transfer-Encoding, and disagreeing
 * Content-Length values are all errors, and the connection is not reused after one.
 *
 * The common case, a whole small response in one read, costs one `indexOf` for the end of the
 * head, one latin1 decode and a split; body bytes are never copied (`subarray`).
 */
import { UpstreamError } from './errors.js';

/** What the parser reports; the connection implements it. */
export interface ResponseSink {
  /**
   * A final (non-1xx) response head, or a 101 when the request asked for an upgrade.
   * `headers` is a flat [name, value, ...] list, names as the server wrote them.
   */
  onHead(
    status: number,
    reason: string,
    headers: string[],
    keepAlive: boolean,
    keepAliveHintMs: number,
  ): void;
  /** A piece of the body; `last` when no body byte follows it. */
  onBody(chunk: Buffer, last: boolean): void;
  onEnd(): void;
}

const HEAD = 0;
const LENGTH = 1;
const CHUNK_SIZE = 2;
const CHUNK_DATA = 3;
const CHUNK_DATA_END = 4;
const TRAILERS = 5;
const UNTIL_CLOSE = 6;
const DONE = 7;
const UPGRADED = 8;

/** Any byte that may not appear in a header line (everything but HTAB, SP..~ and obs-text). */
const invalidLine = /[^\t\x20-\x7e\x80-\xff]/;
/** RFC 9110 §5.6.2 token. */
const token = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const statusLine = /^HTTP\/1\.[01] \d{3}(?: [\t\x20-\x7e\x80-\xff]*)?$/;
/**
 * The field lines of a head (after its start line): `token ":" value` with no whitespace before
 * the colon, no obs-fold, no bare CR or LF, no control characters. Shared with the client side's
 * request reader (../downstream.ts).
 */
export const fieldLines = /(?:\r\n[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[\t\x20-\x7e\x80-\xff]*)*/.source;
/** A whole response head (without its final CRLF CRLF): RFC 9112 status-line, then field lines. */
const wellFormedHead = new RegExp(`^HTTP\\/1\\.[01] \\d{3}(?: [\\t\\x20-\\x7e\\x80-\\xff]*)?${fieldLines}$`);
const digits = /^\d{1,15}$/;
/**
 * chunk-size [ chunk-ext ] (RFC 9112 §7.1.1), as strict as llhttp: no whitespace around the
 * size or the `;`, extension names are tokens, values tokens or quoted strings.
 */
const hexSize =
  /^([0-9A-Fa-f]{1,13})(?:;[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:=(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]*|"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"))?)*$/;

/** Bytes of a chunk-size line or trailer section beyond which the response is refused. */
const maxLineBytes = 8192;

export class ResponseParser {
  #state = DONE;
  #sink: ResponseSink;
  readonly #maxHeadBytes: number;
  #pending: Buffer | undefined;
  #remaining = 0;
  #noBody = false;
  #upgrade = false;
  #line = '';
  #trailerBytes = 0;

  constructor(sink: ResponseSink, maxHeadBytes: number) {
    this.#sink = sink;
    this.#maxHeadBytes = maxHeadBytes;
  }

  /** Gets ready for the response to the next request. */
  expect(noBody: boolean, upgrade: boolean): void {
    this.#state = HEAD;
    this.#noBody = noBody;
    this.#upgrade = upgrade;
    this.#pending = undefined;
    this.#line = '';
    this.#trailerBytes = 0;
  }

  /** True once the head was parsed (so a failure now is a failure mid-body). */
  get headDone(): boolean {
    return this.#state !== HEAD;
  }

  /**
   * Feeds bytes from the socket. Returns the offset where parsing stopped: `data.length` when
   * everything was consumed, less when the response ended (DONE) or switched protocols (UPGRADED)
   * with bytes left over. Throws `UpstreamError('bad-response')` on a malformed response.
   */
  execute(data: Buffer): number {
    let off = 0;
    const len = data.length;
    while (off < len) {
      switch (this.#state) {
        case HEAD: {
          off = this.#head(data, off);
          break;
        }
        case LENGTH: {
          const n = Math.min(this.#remaining, len - off);
          this.#remaining -= n;
          const chunk = off === 0 && n === len ? data : data.subarray(off, off + n);
          off += n;
          if (this.#remaining === 0) this.#state = DONE;
          this.#sink.onBody(chunk, this.#state === DONE);
          if (this.#state === DONE) this.#sink.onEnd();
          break;
        }
        case CHUNK_SIZE: {
          off = this.#chunkSize(data, off);
          break;
        }
        case CHUNK_DATA: {
          const n = Math.min(this.#remaining, len - off);
          this.#remaining -= n;
          const chunk = data.subarray(off, off + n);
          off += n;
          if (this.#remaining === 0) {
            this.#state = CHUNK_DATA_END;
            this.#line = '';
          }
          this.#sink.onBody(chunk, false);
          break;
        }
        case CHUNK_DATA_END: {
          // Exactly CRLF after the chunk's data, possibly split across reads.
          const want = this.#line === '' ? 13 : 10;
          if (data[off] !== want) throw bad('chunk data not followed by CRLF');
          off++;
          if (want === 13) this.#line = '\r';
          else {
            this.#line = '';
            this.#state = CHUNK_SIZE;
          }
          break;
        }
        case TRAILERS: {
          off = this.#trailers(data, off);
          break;
        }
        case UNTIL_CLOSE: {
          const chunk = off === 0 ? data : data.subarray(off);
          off = len;
          this.#sink.onBody(chunk, false);
          break;
        }
        default:
          // DONE or UPGRADED: the rest is not ours to parse.
          return off;
      }
    }
    return off;
  }

  /**
   * The server closed the connection: ends a body that runs until close (true), or says that the
   * response, if one was under way, is incomplete (false).
   */
  finishOnClose(): boolean {
    if (this.#state !== UNTIL_CLOSE) return false;
    this.#state = DONE;
    this.#sink.onEnd();
    return true;
  }

  #head(data: Buffer, start: number): number {
    let buf = data;
    let from = start;
    let searchFrom = start;
    if (this.#pending) {
      // A head split across reads: join, and search from just before the join.
      searchFrom = Math.max(0, this.#pending.length - 3);
      buf = Buffer.concat([this.#pending, data.subarray(start)]);
      from = 0;
    }
    const end = buf.indexOf('\r\n\r\n', searchFrom, 'latin1');
    if (end < 0) {
      if (buf.length - from > this.#maxHeadBytes) throw bad('response head too large');
      // A head with bare LF (or CR) line endings never shows CRLF CRLF: refuse it now, as
      // llhttp does (HPE_CR_EXPECTED), rather than wait for the headers timeout.
      if (bareLineEnd(buf, from, Math.max(from, searchFrom - 1))) throw bad('bare CR or LF in the head');
      this.#pending = from === 0 && buf !== data ? buf : Buffer.from(buf.subarray(from));
      return data.length;
    }
    if (end - from > this.#maxHeadBytes) throw bad('response head too large');
    const consumedOfBuf = end + 4;
    // Offset in `data` just after the head.
    const next = this.#pending ? consumedOfBuf - this.#pending.length + start : consumedOfBuf;
    this.#pending = undefined;
    this.#parseHead(buf.toString('latin1', from, end));
    return next;
  }

  #parseHead(text: string): void {
    // One regular expression checks the whole head (status line, then name:value lines, no
    // control characters); only a head that fails it is examined line by line, to say why.
    if (!wellFormedHead.test(text)) throw bad(explainBadHead(text));
    const minor = text.charCodeAt(7) === 49 ? '1' : '0';
    const status = Number(text.slice(9, 12));
    const firstEnd = text.indexOf('\r\n');
    const statusEnd = firstEnd < 0 ? text.length : firstEnd;
    const reason = statusEnd > 13 ? text.slice(13, statusEnd) : '';
    const headers: string[] = [];
    let contentLength = -1;
    let chunked = false;
    let hasTransferEncoding = false;
    let connection = '';
    let keepAliveHint = '';
    fields.reset(text, firstEnd);
    while (fields.next()) {
      const { name, value } = fields;
      // Only names of an interesting length are lower-cased and compared.
      const n = name.length;
      if (n === 14 || n === 17 || n === 10) {
        const lower = name.toLowerCase();
        if (lower === 'content-length') {
          const parsed = parseContentLength(value);
          if (contentLength >= 0 && parsed !== contentLength) throw bad('conflicting Content-Length');
          // Repeated or listed identical lengths (RFC 9110 §8.6) go out as one plain value: a
          // client may refuse a list, or two headers, where the server got away with it.
          if (contentLength >= 0) continue;
          contentLength = parsed;
          headers.push(name, String(parsed));
          continue;
        } else if (lower === 'transfer-encoding') {
          hasTransferEncoding = true;
          // The codings of every Transfer-Encoding line form one list (RFC 9110 §5.3), whose
          // empty elements do not count (§5.6.1): "chunked" then an empty line is chunked.
          const last = lastCoding(value);
          if (last !== '') chunked = last === 'chunked';
        } else if (lower === 'connection') {
          connection = connection ? `${connection},${value.toLowerCase()}` : value.toLowerCase();
        } else if (lower === 'keep-alive') {
          keepAliveHint = value;
        }
      }
      headers.push(name, value);
    }
    // 000-099 are not interim responses: a client would read this as a final (odd) answer.
    if (status < 100) throw bad(`status ${status}`);
    let keepAlive = minor === '1' ? !hasToken(connection, 'close') : hasToken(connection, 'keep-alive');
    // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means faulty framing; close after.
    if (minor === '0' && hasTransferEncoding) keepAlive = false;
    if (status < 200) {
      if (status === 101 && this.#upgrade) {
        this.#state = UPGRADED;
        this.#sink.onHead(status, reason, headers, false, 0);
        return;
      }
      // Interim response (100 Continue, 103 Early Hints): dropped; the final one follows.
      if (status === 101) throw bad('101 Switching Protocols without an upgrade request');
      return;
    }
    if (hasTransferEncoding && contentLength >= 0) {
      // RFC 9112 §6.3 ¶3: a sender must not send both; a proxy that picked one could desync.
      throw bad('both Transfer-Encoding and Content-Length');
    }
    let next: number;
    if (this.#noBody || status === 204 || status === 304) next = DONE;
    else if (hasTransferEncoding) next = chunked ? CHUNK_SIZE : UNTIL_CLOSE;
    else if (contentLength >= 0) next = contentLength === 0 ? DONE : LENGTH;
    else next = UNTIL_CLOSE;
    if (next === UNTIL_CLOSE) keepAlive = false;
    // An answer to HEAD whose framing would have been "until close" had it been a GET: llhttp
    // (and so Node's client) does not keep such a connection alive; nor is it reused here.
    if (this.#noBody && contentLength < 0 && !chunked && status !== 204 && status !== 304) keepAlive = false;
    this.#remaining = contentLength;
    this.#state = next;
    this.#line = '';
    this.#sink.onHead(status, reason, headers, keepAlive, keepAlive ? parseKeepAliveHint(keepAliveHint) : 0);
    if (next === DONE) this.#sink.onEnd();
  }

  /** Reads a chunk-size line (possibly across reads) and moves on. */
  #chunkSize(data: Buffer, off: number): number {
    const lf = data.indexOf(10, off);
    const end = lf < 0 ? data.length : lf + 1;
    this.#line += data.toString('latin1', off, end);
    if (this.#line.length > maxLineBytes) throw bad('chunk-size line too long');
    if (lf < 0) return end;
    const line = this.#line;
    this.#line = '';
    if (line.length < 2 || line.charCodeAt(line.length - 2) !== 13)
      throw bad('chunk-size line not ended by CRLF');
    const m = hexSize.exec(line.slice(0, -2));
    if (!m || invalidLine.test(line.slice(0, -2))) throw bad('bad chunk size');
    const size = Number.parseInt(m[1]!, 16);
    if (size === 0) {
      this.#state = TRAILERS;
      this.#trailerBytes = 0;
    } else {
      this.#remaining = size;
      this.#state = CHUNK_DATA;
    }
    return end;
  }

  /** Skips the trailer section after the last chunk, up to its empty line (trailers are dropped). */
  #trailers(data: Buffer, off: number): number {
    let pos = off;
    while (pos < data.length) {
      const lf = data.indexOf(10, pos);
      const end = lf < 0 ? data.length : lf + 1;
      this.#line += data.toString('latin1', pos, end);
      this.#trailerBytes += end - pos;
      if (this.#trailerBytes > this.#maxHeadBytes) throw bad('trailer section too large');
      pos = end;
      if (lf < 0) return pos;
      const line = this.#line;
      this.#line = '';
      if (line.length < 2 || line.charCodeAt(line.length - 2) !== 13)
        throw bad('trailer line not ended by CRLF');
      if (line.length === 2) {
        this.#state = DONE;
        this.#sink.onEnd();
        return pos;
      }
      const colon = line.indexOf(':');
      if (colon <= 0 || !token.test(line.slice(0, colon)) || invalidLine.test(line.slice(0, -2)))
        throw bad('bad trailer line');
    }
    return pos;
  }
}

/**
 * Walks the field lines of a head that already passed a `fieldLines` expression: after each
 * `next()`, `name` and `value` (optional whitespace trimmed) describe one line, and
 * `valueStart`/`lineEnd` bound its raw value. Each parser keeps one and reuses it for every head
 * (nothing is called out to while a head is walked), so no object is made per header.
 */
export class FieldLineCursor {
  name = '';
  value = '';
  valueStart = 0;
  lineEnd = 0;
  #text = '';
  #pos = -1;

  /** Starts after the start line; `pos` is the CRLF that ends it (-1: there are no field lines). */
  reset(text: string, pos: number): void {
    this.#text = text;
    this.#pos = pos;
  }

  next(): boolean {
    const pos = this.#pos;
    if (pos < 0) return false;
    const text = this.#text;
    const start = pos + 2;
    const next = text.indexOf('\r\n', start);
    const end = next < 0 ? text.length : next;
    this.#pos = next;
    const colon = text.indexOf(':', start);
    this.name = text.slice(start, colon);
    this.valueStart = colon + 1;
    this.lineEnd = end;
    this.value = trimOws(text, colon + 1, end);
    return true;
  }
}

const fields = new FieldLineCursor();

function bad(message: string): UpstreamError {
  return new UpstreamError('bad-response', `Invalid response from the server: ${message}`);
}

/** Why a head failed `wellFormedHead`, for the error message (the slow path). */
function explainBadHead(text: string): string {
  const lines = text.split('\r\n');
  if (!statusLine.test(lines[0]!)) return `bad status line ${JSON.stringify(lines[0]!.slice(0, 40))}`;
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) return 'header line without a name';
    const name = line.slice(0, colon);
    if (!token.test(name)) return `bad header name ${JSON.stringify(name.slice(0, 40))}`;
    if (invalidLine.test(line)) return `control character in header ${name}`;
  }
  return 'malformed head';
}

/**
 * True when a head starting at `start` has, from `from` on, a LF not preceded by CR or a CR
 * followed by anything but LF (a CR in the last byte is undecided: its LF may come next read).
 */
function bareLineEnd(buf: Buffer, start: number, from: number): boolean {
  for (let i = buf.indexOf(10, from); i >= 0; i = buf.indexOf(10, i + 1)) {
    if (i === start || buf[i - 1] !== 13) return true;
  }
  for (let i = buf.indexOf(13, from); i >= 0 && i < buf.length - 1; i = buf.indexOf(13, i + 1)) {
    if (buf[i + 1] !== 10) return true;
  }
  return false;
}

/**
 * Strips optional whitespace (SP, HTAB only: RFC 9110 §5.6.3) around a field value. Never
 * String#trim: it also strips U+00A0 and other Unicode spaces, which HTTP (and llhttp) keep,
 * so "\xa00" would read as a length of 0.
 */
export function trimOws(line: string, from: number, to: number): string {
  let start = from;
  let end = to;
  while (start < end && (line.charCodeAt(start) === 32 || line.charCodeAt(start) === 9)) start++;
  while (end > start && (line.charCodeAt(end - 1) === 32 || line.charCodeAt(end - 1) === 9)) end--;
  return line.slice(start, end);
}

/** The last non-empty element of a Transfer-Encoding value, lower-cased ('' when none). */
function lastCoding(value: string): string {
  const codings = value.split(',');
  for (let i = codings.length - 1; i >= 0; i--) {
    const coding = trimOws(codings[i]!, 0, codings[i]!.length);
    if (coding !== '') return coding.toLowerCase();
  }
  return '';
}

/** Content-Length: digits, or a list of identical values (RFC 9110 §8.6). */
function parseContentLength(value: string): number {
  if (digits.test(value)) return Number(value);
  const parts = value.split(',').map((p) => trimOws(p, 0, p.length));
  if (parts.every((p) => digits.test(p) && p === parts[0])) return Number(parts[0]);
  throw bad(`bad Content-Length ${JSON.stringify(value.slice(0, 40))}`);
}

export function hasToken(list: string, wanted: string): boolean {
  if (list === wanted) return true;
  // Hot path: "keep-alive" asked about "close" needs no split.
  if (!list.includes(wanted)) return false;
  // Only SP and HTAB are whitespace here (RFC 9110 §5.6.3): String#trim would also strip
  // U+00A0 and read "\xa0close" as close, which llhttp does not.
  return list.split(',').some((t) => trimOws(t, 0, t.length) === wanted);
}

/** `Keep-Alive: timeout=5` → 5000 ms (0 when absent or unreadable). */
function parseKeepAliveHint(value: string): number {
  if (value === '') return 0;
  const m = /(?:^|[,\s])timeout\s*=\s*(\d+)/i.exec(value);
  return m ? Number(m[1]) * 1000 : 0;
}
