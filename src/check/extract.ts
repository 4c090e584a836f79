/**
 * Where in a response a value sits, found in the recording and read again from
 * the live answer: a cookie, a header, the redirect target, a JSON value, a form
 * field, a meta tag, or (for anything else, such as a Socket.IO handshake) the
 * text around it. Structured places come first: they survive markup changes.
 */

import { parseCookieHeader } from './har.js';
import { decodeEntities, type HtmlView, scanHtml } from './html.js';
import { decodeSafe } from './slots.js';

export type Extractor =
  | { kind: 'cookie'; name: string }
  | { kind: 'header'; name: string }
  | { kind: 'location'; part: 'path'; index: number }
  | { kind: 'location'; part: 'query'; name: string }
  | { kind: 'json'; path: (string | number)[] }
  | { kind: 'field'; name: string; occurrence: number }
  | { kind: 'meta'; name: string }
  | { kind: 'text'; left: string; right: string; occurrence: number; encoding: 'raw' | 'uri' | 'html' };

const valueBearing = /html|json|xml|^text\/plain|x-www-form-urlencoded|^$/;
const maxSearched = 1_000_000;
// What ends a word in markup, JSON, headers and URLs; a value containing one is searched as is.
const wordBreak = /[\s"'<>&;,(){}[\]:?#\\=/]+/;
const separators = /[\s"'<>&;,(){}[\]:?#\\=/]/;
const pieceBreak = /[.\-_~+%]+/;

/** A response, recorded or live, read lazily. */
export class ResponseView {
  readonly headers: [string, string][];
  readonly setCookies: readonly string[];
  readonly type: string;
  readonly text: string | null;
  #json: unknown;
  #html: HtmlView | undefined;
  #parsed = false;
  #haystack: string | undefined;
  #tokens: Set<string> | undefined;

  constructor(
    headers: readonly [string, string][],
    setCookies: readonly string[],
    type: string,
    text: string | null,
  ) {
    this.headers = headers.map(([n, v]) => [n.toLowerCase(), v]);
    this.setCookies = setCookies;
    this.type = type.toLowerCase();
    // Values an app hands to a page sit in its documents and API answers, not in its
    // scripts, styles and images; and not past a megabyte.
    this.text = text !== null && valueBearing.test(this.type) && text.length <= maxSearched ? text : null;
  }

  get json(): unknown {
    if (!this.#parsed) {
      this.#parsed = true;
      try {
        this.#json = this.text !== null && /json/.test(this.type) ? JSON.parse(this.text) : undefined;
      } catch {
        this.#json = undefined;
      }
    }
    return this.#json;
  }

  get html(): HtmlView | null {
    if (this.text === null || !/html/.test(this.type)) return null;
    this.#html ??= scanHtml(this.text);
    return this.#html;
  }

  header(name: string): string | undefined {
    return this.headers.find(([n]) => n === name)?.[1];
  }

  /** Everything a value could be found in, for a quick "is it here at all". */
  get haystack(): string {
    this.#haystack ??= `${this.headers.map(([, v]) => v).join('\n')}\n${this.text ?? ''}`;
    return this.#haystack;
  }

  /**
   * Whether `value` may be in this response, answered from an index of its words
   * built once: a journey of hundreds of requests asks this of every earlier answer
   * for every value it sends.
   */
  mightContain(value: string): boolean {
    if (!this.#tokens) {
      const tokens = new Set<string>();
      for (const word of this.haystack.split(wordBreak)) {
        tokens.add(word);
        for (const piece of word.split(pieceBreak)) tokens.add(piece);
        tokens.add(decodings.uri(word));
      }
      for (const line of this.setCookies)
        tokens.add(decodings.uri(line.split(';')[0]!.split('=').slice(1).join('=')));
      const leaves = (node: unknown): void => {
        if (Array.isArray(node)) node.forEach(leaves);
        else if (node !== null && typeof node === 'object') Object.values(node).forEach(leaves);
        else if (typeof node === 'string' || typeof node === 'number') tokens.add(String(node));
      };
      leaves(this.json);
      this.#tokens = tokens;
    }
    if (this.#tokens.has(value)) return true;
    return (
      separators.test(value) &&
      (this.haystack.includes(value) || this.haystack.includes(encodeURIComponent(value)))
    );
  }
}

function locationUrl(view: ResponseView): URL | null {
  const location = view.header('location');
  if (!location) return null;
  try {
    return new URL(location, 'http://relative.invalid');
  } catch {
    return null;
  }
}

function findJson(node: unknown, value: string, path: (string | number)[]): (string | number)[] | null {
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) {
      const found = findJson(node[i], value, [...path, i]);
      if (found) return found;
    }
  } else if (node !== null && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      const found = findJson(v, value, [...path, k]);
      if (found) return found;
    }
  } else if ((typeof node === 'string' || typeof node === 'number') && String(node) === value) {
    return path;
  }
  return null;
}

const encodings = {
  raw: (s: string) => s,
  uri: encodeURIComponent,
  html: (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;'),
};
const decodings = {
  raw: (s: string) => s,
  uri: decodeSafe,
  html: decodeEntities,
};

const occurrences = (text: string, needle: string, before: number) => {
  let n = 0;
  for (let i = text.indexOf(needle); i !== -1 && i < before; i = text.indexOf(needle, i + 1)) n++;
  return n;
};

function textExtractor(text: string, value: string): Extractor | null {
  for (const encoding of ['raw', 'uri', 'html'] as const) {
    const needle = encodings[encoding](value);
    const at = text.indexOf(needle);
    if (at === -1) continue;
    const left = text
      .slice(Math.max(0, at - 24), at)
      .split('\n')
      .pop()!;
    // A value with nothing specific before it cannot be found again reliably.
    if (left.trim().length < 3) continue;
    const right = text.slice(at + needle.length, at + needle.length + 8).split('\n')[0]!;
    return { kind: 'text', left, right, occurrence: occurrences(text, left, at - left.length), encoding };
  }
  return null;
}

/**
 * Where `value` sits in a recorded response, or null.
 *
 * @example
 * findExtractor(view, 'x9f3'); // { kind: 'location', part: 'query', name: 'state' }
 */
export function findExtractor(view: ResponseView, value: string): Extractor | null {
  if (!view.mightContain(value)) return null;
  for (const line of view.setCookies) {
    const [name, v] = parseCookieHeader(line.split(';')[0] ?? '')[0] ?? [];
    if (name && (v === value || decodings.uri(v ?? '') === value)) return { kind: 'cookie', name };
  }
  const location = locationUrl(view);
  if (location) {
    const index = location.pathname.split('/').slice(1).map(decodings.uri).indexOf(value);
    if (index !== -1) return { kind: 'location', part: 'path', index };
    for (const [name, v] of location.searchParams)
      if (v === value) return { kind: 'location', part: 'query', name };
  }
  for (const [name, v] of view.headers) {
    if (v === value && name !== 'set-cookie' && name !== 'date') return { kind: 'header', name };
  }
  const json = view.json;
  if (json !== undefined) {
    const path = findJson(json, value, []);
    if (path) return { kind: 'json', path };
  }
  const html = view.html;
  if (html) {
    const fields = html.fields.filter((f) => f.value === value);
    if (fields[0]) {
      const name = fields[0].name;
      const occurrence = html.fields.filter((f) => f.name === name).indexOf(fields[0]);
      return { kind: 'field', name, occurrence };
    }
    const meta = html.meta.find((m) => m.content === value);
    if (meta) return { kind: 'meta', name: meta.name };
  }
  // Short values are everywhere in a text; only a structured place is trusted for them.
  if (value.length < 4 || view.text === null) return null;
  return textExtractor(view.text, value);
}

/**
 * Reads the value an extractor names from a live response; undefined when it is not there.
 *
 * @example
 * extract({ kind: 'meta', name: 'csrf-token' }, liveView, (name) => jar.value(name)); // 'a9f…'
 */
export function extract(
  extractor: Extractor,
  view: ResponseView,
  cookie: (name: string) => string | undefined,
) {
  switch (extractor.kind) {
    case 'cookie':
      return cookie(extractor.name);
    case 'header':
      return view.header(extractor.name);
    case 'location': {
      const url = locationUrl(view);
      if (!url) return undefined;
      if (extractor.part === 'query') return url.searchParams.get(extractor.name) ?? undefined;
      const segment = url.pathname.split('/').slice(1)[extractor.index];
      return segment === undefined ? undefined : decodings.uri(segment);
    }
    case 'json': {
      let node = view.json as Record<string | number, unknown> | undefined;
      for (const key of extractor.path) node = node?.[key] as Record<string | number, unknown> | undefined;
      return typeof node === 'string' || typeof node === 'number' ? String(node) : undefined;
    }
    case 'field':
      return view.html?.fields.filter((f) => f.name === extractor.name)[extractor.occurrence]?.value;
    case 'meta':
      return view.html?.meta.find((m) => m.name === extractor.name)?.content;
    case 'text':
      return view.text === null ? undefined : readBetween(view.text, extractor);
  }
}

function readBetween(text: string, e: Extract<Extractor, { kind: 'text' }>): string | undefined {
  let at = -1;
  for (let n = 0; n <= e.occurrence; n++) {
    at = text.indexOf(e.left, at + 1);
    if (at === -1) return undefined;
  }
  const start = at + e.left.length;
  const window = text.slice(start, start + 4096);
  const end = e.right ? window.indexOf(e.right) : window.search(/[\s"'<>]|$/);
  if (end <= 0) return undefined;
  const raw = window.slice(0, end);
  return raw.includes('\n') ? undefined : decodings[e.encoding](raw);
}
