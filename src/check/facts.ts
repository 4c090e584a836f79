/**
 * What a response says, as facts the check can compare across replicas: the
 * status, the redirect target, cookies set or cleared, the content type, rate
 * limit counters, JSON values, and for HTML its text, links, forms and meta
 * tags. Keys are paths (`json$.cart[0].sku`, `form[1].csrf#0`), so that a
 * container whose children vary between runs (a map keyed by random ids) can be
 * told apart from a value that changed (see `ancestors`). Values are normalized
 * first (normalize.ts).
 */
import { createHash } from 'node:crypto';
import type { CookieChange } from './cookie-jar.js';
import { scanHtml } from './html.js';
import { decodeSafe } from './slots.js';

export interface Facts {
  /** Normalized values by key. */
  scalar: Map<string, string>;
  /** Values before normalization, where they differ from `scalar`'s. */
  raw: Map<string, string>;
  /** HTML text nodes and links, or the lines of a plain-text body: compared as a multiset. */
  text: string[];
}

export interface ResponseLike {
  status: number;
  headers: readonly [string, string][];
  body: Buffer;
}

export interface FactContext {
  normalize: (text: string) => string;
  /** Origins that mean "this app" in a Location (the live one and the recorded one). */
  origins: string[];
  cookies: readonly CookieChange[];
}

const maxJsonLeaves = 5000;
const maxTextBytes = 2_000_000;

/**
 * The media type of a response, without parameters (RFC 9110 §8.3.1).
 *
 * @example
 * mediaType([['content-type', 'text/HTML; charset=utf-8']]); // 'text/html'
 */
export function mediaType(headers: readonly [string, string][]): string {
  const value = headers.find(([n]) => n === 'content-type')?.[1] ?? '';
  return value.split(';')[0]!.trim().toLowerCase();
}

/**
 * @example
 * const facts = factsOf({ status: 200, headers: [['content-type', 'application/json']], body: Buffer.from('{"n":1}') },
 *   { normalize: (s) => s, origins: [], cookies: [] });
 * facts.scalar.get('json$.n'); // 'n:1'
 */
export function factsOf(response: ResponseLike, context: FactContext): Facts {
  const facts: Facts = { scalar: new Map(), raw: new Map(), text: [] };
  const put: Put = (key, value, normalize) => {
    const normalized = normalize ? context.normalize(value) : value;
    facts.scalar.set(key, normalized);
    if (normalized !== value) facts.raw.set(key, value);
  };
  put('status', String(response.status));
  const type = mediaType(response.headers);
  if (type) put('content-type', type);
  const location = response.headers.find(([n]) => n === 'location')?.[1];
  if (location !== undefined) locationFacts(location, context, put);
  for (const change of context.cookies) {
    put(`cookie.${change.name}`, change.action);
    if (change.action === 'set') put(`cookie.${change.name}=`, change.value, true);
  }
  const remaining = rateLimitRemaining(response.headers);
  if (remaining !== undefined) put('header.ratelimit-remaining', remaining);
  bodyFacts(response.body, type, context, put, facts.text);
  return facts;
}

/** Records a fact; `normalize` masks its noise first (normalize.ts). */
type Put = (key: string, value: string, normalize?: boolean) => void;

function locationFacts(location: string, { origins }: FactContext, put: Put): void {
  let url: URL;
  try {
    url = new URL(location, 'http://relative.invalid');
  } catch {
    put('location', location, true);
    return;
  }
  const own = url.origin === 'http://relative.invalid' || origins.includes(url.origin);
  if (!own) put('location.origin', url.origin, true);
  put('location.path', decodeSafe(url.pathname), true);
  for (const [name, value] of url.searchParams) put(`location.query.${name}`, value, true);
}

/**
 * Remaining requests from the rate-limit headers: draft-ietf-httpapi-ratelimit-headers
 * (`RateLimit-Remaining`, or `RateLimit: limit=5, remaining=4` / `"p";r=4;t=60` / `"5-in-15min"; r=4; t=900`) and the
 * older `X-RateLimit-Remaining`. express-rate-limit and most gateways send one of them.
 */
function rateLimitRemaining(headers: readonly [string, string][]): string | undefined {
  const get = (name: string) => headers.find(([n]) => n === name)?.[1];
  const plain = get('ratelimit-remaining') ?? get('x-ratelimit-remaining');
  if (plain !== undefined) return plain.trim();
  const combined = get('ratelimit');
  // Structured fields (RFC 8941) allow a space after ';': express-rate-limit's draft-8 sends `; r=4`.
  return combined ? /(?:\bremaining=|;\s*r=)(\d+)/.exec(combined)?.[1] : undefined;
}

function bodyFacts(body: Buffer, type: string, context: FactContext, put: Put, text: string[]): void {
  if (body.length === 0) return;
  const { normalize } = context;
  if (body.length > maxTextBytes || !/json|html|xml|^text\//.test(type)) {
    put('body', createHash('sha256').update(body).digest('hex').slice(0, 16));
    return;
  }
  const source = body.toString('utf8');
  if (/json/.test(type)) {
    try {
      jsonFacts(JSON.parse(source), 'json$', put, { leaves: 0 });
      return;
    } catch {
      // Not JSON after all: compare it as text.
    }
  }
  if (/html/.test(type)) {
    const view = scanHtml(source);
    for (const node of view.text) text.push(normalize(node));
    for (const href of view.links) text.push(`link ${normalize(stripOrigin(href, context.origins))}`);
    view.forms.forEach((form, i) => {
      put(`form[${i}]`, `${form.method} ${stripOrigin(form.action, context.origins)}`, true);
      const seen = new Map<string, number>();
      for (const field of form.fields) {
        const n = seen.get(field.name) ?? 0;
        seen.set(field.name, n + 1);
        put(`form[${i}].${field.name}#${n}`, `${field.type}:${field.value}`, true);
      }
    });
    for (const meta of view.meta) put(`meta.${meta.name}`, meta.content, true);
    return;
  }
  for (const line of source.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (trimmed) text.push(normalize(trimmed));
  }
}

function stripOrigin(url: string, origins: string[]): string {
  for (const origin of origins) if (url.startsWith(origin)) return url.slice(origin.length) || '/';
  return url;
}

function jsonFacts(value: unknown, path: string, put: Put, count: { leaves: number }): void {
  if (count.leaves++ > maxJsonLeaves) return;
  if (Array.isArray(value)) {
    if (value.length === 0) put(path, '[]');
    value.forEach((item, i) => {
      jsonFacts(item, `${path}[${i}]`, put, count);
    });
    return;
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    if (entries.length === 0) put(path, '{}');
    for (const [key, item] of entries) {
      const step = /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
      jsonFacts(item, `${path}${step}`, put, count);
    }
    return;
  }
  if (typeof value === 'string') put(path, `s:${value}`, true);
  else if (typeof value === 'number') put(path, `n:${value}`, true);
  else put(path, String(value));
}

const jsonStep = /\.[A-Za-z_$][\w$]*|\[\d+\]|\["(?:[^"\\]|\\.)*"\]/g;

/**
 * The containers a fact sits in, innermost first.
 *
 * @example
 * ancestors('json$.cart[0].sku'); // ['json$.cart[0]', 'json$.cart', 'json$']
 * ancestors('form[1].csrf#0');    // ['form[1]', 'forms']
 */
export function ancestors(key: string): string[] {
  if (key.startsWith('json$')) {
    const steps = key.slice(5).match(jsonStep) ?? [];
    return steps.map((_, i) => `json$${steps.slice(0, steps.length - 1 - i).join('')}`);
  }
  const field = /^(form\[\d+\])\./.exec(key);
  if (field) return [field[1]!, 'forms'];
  if (/^form\[\d+\]$/.test(key)) return ['forms'];
  if (key.startsWith('cookie.')) return key.endsWith('=') ? [key.slice(0, -1), 'cookie'] : ['cookie'];
  if (key.startsWith('location.query.')) return ['location.query'];
  for (const family of ['meta', 'header']) if (key.startsWith(`${family}.`)) return [family];
  return [];
}
