/**
 * Reading a recorded journey: HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/)
 * as Chrome's and Firefox's developer tools ("Save all as HAR") and Playwright's
 * `recordHar` write it. Only what a replay needs is kept; everything else in the
 * file (timings, pages, `_initiator`, `_securityDetails`) is ignored.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { CheckError } from './errors.js';

/** One request and response of the recording, as the app answered it then. */
export interface RecordedExchange {
  /** Position in the HAR's entries, after sorting by start time. */
  entry: number;
  method: string;
  url: URL;
  /** Request headers as recorded (names as written). */
  headers: [string, string][];
  /** Cookies the browser sent (from the Cookie header, else `request.cookies`). */
  cookies: [string, string][];
  /**
   * A page load of a frame (`_resourceType: "document"` from Chrome and Playwright,
   * `Sec-Fetch-Dest: document` from any current browser), not a script's request.
   */
  document: boolean;
  /**
   * Answered from the browser's cache, never sent to the app: Chrome's `_fromCache`, or a
   * Playwright entry with a body and no bytes on the wire.
   */
  fromCache: boolean;
  body: { mimeType: string; text: string } | null;
  /**
   * Why the recording has no (or only part of the) body the request carried: its
   * Content-Type or Content-Length says there was one. Null when nothing is missing.
   */
  bodyMissing: BodyMissing | null;
  response: {
    status: number;
    headers: [string, string][];
    setCookies: string[];
    mimeType: string;
    /** Body text; null when the recording left it out or it is binary. */
    text: string | null;
  };
}

export interface Recording {
  creator: string;
  /**
   * The URL of the first page, when the recorder names it: Chrome's `pages[0].title` is
   * the page's URL (Playwright and Firefox write the document's title there instead).
   */
  pageUrl: URL | null;
  exchanges: RecordedExchange[];
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function invalid(file: string, why: string, cause?: unknown): CheckError {
  return new CheckError(
    'UNPINNED_ERR_CHECK_HAR_INVALID',
    `${file} is not a HAR file the check can replay: ${why}. Record one with your browser's developer tools (Network tab, "Save all as HAR") or Playwright's recordHar (see docs/check.md).`,
    { cause },
  );
}

/**
 * Reads and validates a HAR file.
 *
 * @example
 * const { exchanges } = readHar('journey.har');
 */
export function readHar(file: string): Recording {
  let raw: Buffer;
  try {
    raw = readFileSync(file);
  } catch (cause) {
    throw invalid(file, `it cannot be read (${(cause as Error).message})`, cause);
  }
  // Playwright writes a zip (HAR plus attached bodies) when the path ends in .zip.
  if (raw.subarray(0, 2).toString('latin1') === 'PK') {
    throw invalid(
      file,
      'it is a zip archive; record to a path ending in .har (Playwright then embeds bodies)',
    );
  }
  let doc: unknown;
  try {
    doc = JSON.parse(decode(raw));
  } catch (cause) {
    throw invalid(file, `it is not JSON (${(cause as Error).message})`, cause);
  }
  // HAR 1.2 §log: the root object has a single `log` with `entries`.
  if (!isObject(doc) || !isObject(doc.log) || !Array.isArray(doc.log.entries)) {
    throw invalid(file, 'it has no "log.entries" array');
  }
  const creator = isObject(doc.log.creator) ? String(doc.log.creator.name ?? 'unknown') : 'unknown';
  const playwright = creator === 'Playwright';
  const entries = doc.log.entries.map((entry, i) => parseEntry(file, entry, i, playwright));
  // Entries are in start order in every recorder we know; sort anyway (stable) so a
  // hand-merged file replays in the order things happened.
  const order = entries
    .map((e, i) => ({ e, i, t: Date.parse(e.started) }))
    .sort((x, y) => (Number.isNaN(x.t) || Number.isNaN(y.t) ? 0 : x.t - y.t) || x.i - y.i);
  return {
    creator,
    pageUrl: pageUrlOf(doc.log.pages),
    exchanges: order.map(({ e }, entry) => ({ ...e.exchange, entry })),
  };
}

function pageUrlOf(pages: unknown): URL | null {
  const first = Array.isArray(pages) && isObject(pages[0]) ? pages[0].title : undefined;
  if (typeof first !== 'string' || !/^https?:\/\//i.test(first)) return null;
  try {
    return new URL(first);
  } catch {
    return null;
  }
}

/**
 * JSON text of the file. HAR is UTF-8 (HAR 1.2 §encoding), but a HAR re-saved on Windows
 * (PowerShell's `>` and `Out-File`, Notepad's "Unicode") is UTF-16 with a byte order mark:
 * read it as the editor meant it rather than report NUL bytes as "not JSON".
 */
function decode(raw: Buffer): string {
  // Without a BOM, a JSON document that starts with `{` or whitespace shows its encoding
  // by where the NUL of the first ASCII character sits (RFC 4627 §3).
  const le = (raw[0] === 0xff && raw[1] === 0xfe) || (raw.length >= 2 && raw[0] !== 0 && raw[1] === 0);
  const be = (raw[0] === 0xfe && raw[1] === 0xff) || (raw.length >= 2 && raw[0] === 0 && raw[1] !== 0);
  let text: string;
  // An odd last byte is half a character: leave it out, JSON.parse then says what is wrong.
  const even = raw.subarray(0, raw.length - (raw.length % 2));
  if (le) text = even.toString('utf16le');
  else if (be) text = Buffer.from(even).swap16().toString('utf16le');
  else text = raw.toString('utf8');
  return text.replace(/^\uFEFF/, '');
}

function parseEntry(
  file: string,
  entry: unknown,
  i: number,
  playwright: boolean,
): { started: string; exchange: RecordedExchange } {
  const where = `entry ${i + 1}`;
  if (!isObject(entry) || !isObject(entry.request) || !isObject(entry.response)) {
    throw invalid(file, `${where} has no request and response objects`);
  }
  const { request, response } = entry;
  if (typeof request.method !== 'string' || typeof request.url !== 'string') {
    throw invalid(file, `${where} has no request.method and request.url`);
  }
  let url: URL;
  try {
    url = new URL(request.url);
  } catch (cause) {
    throw invalid(file, `${where} has an unreadable URL (${request.url})`, cause);
  }
  const headers = nameValues(request.headers);
  const cookieHeader = headers.filter(([n]) => n.toLowerCase() === 'cookie').map(([, v]) => v);
  const cookies = cookieHeader.length
    ? parseCookieHeader(cookieHeader.join('; '))
    : nameValues(request.cookies);
  const responseHeaders = nameValues(response.headers);
  const content = isObject(response.content) ? response.content : {};
  return {
    started: typeof entry.startedDateTime === 'string' ? entry.startedDateTime : '',
    exchange: {
      entry: i,
      method: request.method.toUpperCase(),
      url,
      headers,
      cookies,
      document:
        entry._resourceType === 'document' || /^document$/i.test(headerOf(headers, 'sec-fetch-dest') ?? ''),
      fromCache: Boolean(entry._fromCache) || (playwright && cacheHit(response, content)),
      ...parseBody(file, where, request, headers),
      response: {
        status: typeof response.status === 'number' ? response.status : 0,
        headers: responseHeaders,
        setCookies: setCookiesOf(responseHeaders, response.cookies),
        mimeType: String(content.mimeType ?? headerOf(responseHeaders, 'content-type') ?? ''),
        text: contentText(file, where, content),
      },
    },
  };
}

/**
 * Playwright writes no `_fromCache`: a memory- or disk-cache hit is an ordinary 200 whose
 * `_transferSize` (Chromium's encoded data length, headers included) is 0 although it has a
 * body. An answer from the network always has bytes on the wire; with Firefox, where Playwright
 * counts only the body's, an empty one has no body either. A revalidation (an If-None-Match
 * answered 304, which Playwright writes as 200 with the cached body) did reach the app and has
 * its 304's bytes: it is replayed.
 */
function cacheHit(response: Json, content: Json): boolean {
  const size = typeof content.size === 'number' ? content.size : 0;
  return (
    response._transferSize === 0 && size > 0 && typeof response.status === 'number' && response.status > 0
  );
}

function nameValues(list: unknown): [string, string][] {
  if (!Array.isArray(list)) return [];
  return list.filter(isObject).map((h) => [String(h.name ?? ''), String(h.value ?? '')]);
}

export function headerOf(headers: readonly [string, string][], name: string): string | undefined {
  return headers.find(([n]) => n.toLowerCase() === name)?.[1];
}

/**
 * RFC 6265 §5.4: `name=value; name2=value2`.
 *
 * @example
 * parseCookieHeader('sid=a1; theme=dark'); // [['sid', 'a1'], ['theme', 'dark']]
 */
export function parseCookieHeader(header: string): [string, string][] {
  return header
    .split(';')
    .map((part) => part.trim())
    .filter((part) => part.includes('='))
    .map((part) => {
      const eq = part.indexOf('=');
      return [part.slice(0, eq).trim(), part.slice(eq + 1).trim()];
    });
}

/** Set-Cookie lines; some recorders fold several into one header with newlines. */
function setCookiesOf(headers: [string, string][], cookies: unknown): string[] {
  const lines = headers
    .filter(([n]) => n.toLowerCase() === 'set-cookie')
    .flatMap(([, v]) => v.split('\n'))
    .filter(Boolean);
  if (lines.length || !Array.isArray(cookies)) return lines;
  return cookies.filter(isObject).map((c) => `${String(c.name)}=${String(c.value ?? '')}`);
}

/** Why a request that had a body has none in the recording, and what to do: shown when the app rejects it. */
export interface BodyMissing {
  why: string;
  fix: string;
}

const script = 'write this journey with --script (docs/check.md#a-journey-in-code)';
const upload: BodyMissing = { why: 'browsers do not record file uploads', fix: script };
const omitted: BodyMissing = {
  why: "the recorder left it out, as Playwright does with content: 'omit' or for a binary body",
  fix: `record the journey again with Playwright's default content: 'embed', or ${script}`,
};

function parseBody(
  harFile: string,
  where: string,
  request: Json,
  headers: [string, string][],
): { body: RecordedExchange['body']; bodyMissing: BodyMissing | null } {
  const contentType = headerOf(headers, 'content-type') ?? '';
  // What the request itself says it carried, whatever the recorder kept of it.
  const length = Number(headerOf(headers, 'content-length') ?? 0);
  const declared =
    length > 0 ||
    (typeof request.bodySize === 'number' && request.bodySize > 0) ||
    /^multipart\/form-data/i.test(contentType);
  const { postData } = request;
  // Chromium leaves `postData` out of a request that uploads a file.
  if (!isObject(postData)) return { body: null, bodyMissing: declared ? upload : null };
  const mimeType = String(postData.mimeType ?? contentType);
  const found = (text: string) => ({ body: { mimeType, text }, bodyMissing: null });
  if (typeof postData.text === 'string' && postData.text !== '') {
    // Chrome keeps a multipart body's text fields and leaves each file's bytes out.
    const short = length > Buffer.byteLength(postData.text) && /filename=/i.test(postData.text);
    return short && /^multipart\//i.test(mimeType)
      ? { body: { mimeType, text: postData.text }, bodyMissing: upload }
      : found(postData.text);
  }
  // Playwright's `content: 'attach'`: the body is in a file next to the HAR.
  if (typeof postData._file === 'string')
    return found(attached(harFile, where, postData._file).toString('utf8'));
  // HAR 1.2 §postData: `params` for posted forms, instead of `text` (older Firefox) or with an
  // empty one (Playwright's `content: 'omit'` and `'attach'`).
  const params = Array.isArray(postData.params) ? postData.params.filter(isObject) : [];
  if (params.length) {
    if (/^multipart\/form-data/i.test(mimeType)) return multipartOf(params, contentType || mimeType);
    const pairs = params.map((p): [string, string] => [String(p.name ?? ''), String(p.value ?? '')]);
    return {
      body: { mimeType: 'application/x-www-form-urlencoded', text: new URLSearchParams(pairs).toString() },
      bodyMissing: null,
    };
  }
  if (typeof postData.text === 'string')
    return { body: { mimeType, text: '' }, bodyMissing: declared ? omitted : null };
  return { body: null, bodyMissing: declared ? omitted : null };
}

/** A multipart body again from its recorded fields, with the boundary the request's Content-Type names. */
function multipartOf(
  params: Json[],
  contentType: string,
): { body: RecordedExchange['body']; bodyMissing: BodyMissing | null } {
  const named = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const boundary = named?.[1] ?? named?.[2] ?? 'unpinned-recorded-form';
  const mimeType = named ? contentType : `multipart/form-data; boundary=${boundary}`;
  let text = '';
  let bodyMissing: BodyMissing | null = null;
  for (const p of params) {
    const file = typeof p.fileName === 'string' ? `; filename="${p.fileName}"` : '';
    const type = file && typeof p.contentType === 'string' ? `\r\nContent-Type: ${p.contentType}` : '';
    if (file && typeof p.value !== 'string') bodyMissing = upload;
    text += `--${boundary}\r\nContent-Disposition: form-data; name="${String(p.name ?? '')}"${file}${type}\r\n\r\n${String(p.value ?? '')}\r\n`;
  }
  return { body: { mimeType, text: `${text}--${boundary}--\r\n` }, bodyMissing };
}

/**
 * A body Playwright's `content: 'attach'` wrote next to the HAR (`_file`), read as its own
 * `routeFromHAR` does: relative to the HAR's folder, and never outside it.
 */
function attached(harFile: string, where: string, name: string): Buffer {
  const folder = dirname(resolve(harFile));
  const path = resolve(folder, name);
  if (isAbsolute(name) || relative(folder, path).startsWith('..')) {
    throw invalid(harFile, `${where} names a body file outside the HAR's folder (${name})`);
  }
  try {
    return readFileSync(path);
  } catch (cause) {
    throw invalid(
      harFile,
      `${where} keeps its body in ${name}, which cannot be read next to it (${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}); copy the files Playwright's content: 'attach' wrote along with the HAR, or record with the default content: 'embed'`,
      cause,
    );
  }
}

const textual = /^(text\/|application\/(.*\+)?(json|xml|javascript|x-www-form-urlencoded)|image\/svg)/i;

function contentText(harFile: string, where: string, content: Json): string | null {
  if (typeof content._file === 'string') {
    const bytes = attached(harFile, where, content._file);
    return textual.test(String(content.mimeType ?? '')) ? bytes.toString('utf8') : null;
  }
  if (typeof content.text !== 'string') return null;
  // HAR 1.2 §content: `encoding: "base64"` for bodies that are not text as recorded.
  if (content.encoding !== 'base64') return content.text;
  if (!textual.test(String(content.mimeType ?? ''))) return null;
  return Buffer.from(content.text, 'base64').toString('utf8');
}
