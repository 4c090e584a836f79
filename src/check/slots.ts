/**
 * The places in a recorded request where a value can sit that an earlier
 * response produced (a "slot"): a path segment, a query parameter, a form or
 * multipart field, a JSON value, a custom header or a bearer token. Correlation
 * reads the recorded value of each slot and writes the live one back.
 */

export type Where =
  | { in: 'path'; index: number }
  | { in: 'query'; name: string; occurrence: number }
  | { in: 'form'; name: string; occurrence: number }
  | { in: 'multipart'; name: string; occurrence: number }
  | { in: 'json'; path: (string | number)[] }
  | { in: 'header'; name: string; prefix: string };

export interface Slot {
  where: Where;
  value: string;
}

export interface RequestParts {
  path: string;
  query: string;
  headers: [string, string][];
  body: { mimeType: string; text: string } | null;
}

// Headers whose values are the browser's own, never an app's value (RFC 9110, Fetch).
const standardHeader =
  /^(accept|accept-.*|user-agent|referer|origin|cookie|host|content-type|content-length|cache-control|pragma|connection|keep-alive|upgrade-insecure-requests|dnt|te|priority|sec-.*|if-.*|range|purpose|x-requested-with)$/i;

const trivial = new Set(['', 'true', 'false', 'null', 'undefined', 'on', 'off']);

const keep = (value: string) => !trivial.has(value.toLowerCase());

function counted<T extends { name: string }>(items: T[]): (T & { occurrence: number })[] {
  const seen = new Map<string, number>();
  return items.map((item) => {
    const n = seen.get(item.name) ?? 0;
    seen.set(item.name, n + 1);
    return { ...item, occurrence: n };
  });
}

/** `decodeURIComponent`, or the text as it was when it is not valid percent-encoding. */
export const decodeSafe = (s: string): string => {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
};

function boundaryOf(mimeType: string): string | null {
  return /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(mimeType)?.slice(1).find(Boolean) ?? null;
}

interface Part {
  head: string;
  name: string | null;
  file: boolean;
  content: string;
}

/** RFC 7578 multipart/form-data, as text (fields are text; file parts are kept untouched). */
function multipartParts(text: string, boundary: string): Part[] | null {
  const delimiter = `--${boundary}`;
  const chunks = text.split(delimiter);
  if (chunks.length < 3) return null;
  return chunks.slice(1, -1).map((chunk) => {
    const body = chunk.replace(/^\r\n/, '').replace(/\r\n$/, '');
    const split = body.indexOf('\r\n\r\n');
    const head = split === -1 ? body : body.slice(0, split);
    const disposition = /content-disposition:[^\r\n]*/i.exec(head)?.[0] ?? '';
    return {
      head,
      name: /\bname="([^"]*)"/i.exec(disposition)?.[1] ?? null,
      file: /\bfilename=/i.test(disposition),
      content: split === -1 ? '' : body.slice(split + 4),
    };
  });
}

function jsonLeaves(value: unknown, path: (string | number)[], out: Slot[]): void {
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      jsonLeaves(v, [...path, i], out);
    });
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) jsonLeaves(v, [...path, k], out);
  } else if (typeof value === 'string' || typeof value === 'number') {
    out.push({ where: { in: 'json', path }, value: String(value) });
  }
}

/**
 * Every slot of a recorded request with its recorded value.
 *
 * @example
 * slotsOf({ path: '/orders/17', query: '?state=x9', headers: [], body: null });
 * // [{ where: { in: 'path', index: 0 }, value: 'orders' }, { where: { in: 'path', index: 1 }, value: '17' },
 * //  { where: { in: 'query', name: 'state', occurrence: 0 }, value: 'x9' }]
 */
export function slotsOf(parts: RequestParts): Slot[] {
  const slots: Slot[] = [];
  parts.path
    .split('/')
    .slice(1)
    .forEach((segment, index) => {
      slots.push({ where: { in: 'path', index }, value: decodeSafe(segment) });
    });
  const query = counted([...new URLSearchParams(parts.query)].map(([name, value]) => ({ name, value })));
  for (const q of query)
    slots.push({ where: { in: 'query', name: q.name, occurrence: q.occurrence }, value: q.value });
  for (const [name, value] of parts.headers) {
    if (name.startsWith(':') || standardHeader.test(name)) continue;
    const bearer = /^(bearer|token)\s+/i.exec(value);
    const prefix = bearer?.[0] ?? '';
    slots.push({
      where: { in: 'header', name: name.toLowerCase(), prefix },
      value: value.slice(prefix.length),
    });
  }
  const body = parts.body;
  if (body) {
    if (/x-www-form-urlencoded/i.test(body.mimeType)) {
      for (const f of counted(
        [...new URLSearchParams(body.text)].map(([name, value]) => ({ name, value })),
      )) {
        slots.push({ where: { in: 'form', name: f.name, occurrence: f.occurrence }, value: f.value });
      }
    } else if (/json/i.test(body.mimeType)) {
      try {
        jsonLeaves(JSON.parse(body.text), [], slots);
      } catch {
        // Not JSON: nothing to correlate in it.
      }
    } else if (/multipart\/form-data/i.test(body.mimeType)) {
      const boundary = boundaryOf(body.mimeType);
      const fields = boundary ? multipartParts(body.text, boundary) : null;
      const named = (fields ?? []).filter((p) => p.name !== null && !p.file) as (Part & { name: string })[];
      for (const p of counted(named)) {
        slots.push({ where: { in: 'multipart', name: p.name, occurrence: p.occurrence }, value: p.content });
      }
    }
  }
  return slots.filter((s) => keep(s.value));
}

function replaceNth(
  pairs: [string, string][],
  name: string,
  occurrence: number,
  value: string,
): [string, string][] {
  let n = 0;
  return pairs.map(([k, v]) => (k === name && n++ === occurrence ? [k, value] : [k, v]));
}

/**
 * Writes live values into their slots; parts no value changed are kept byte for byte.
 *
 * @example
 * fillSlots(parts, [{ where: { in: 'query', name: 'state', occurrence: 0 }, value: 'live-state' }]);
 */
export function fillSlots(parts: RequestParts, values: readonly Slot[]): RequestParts {
  let { path, query, headers, body } = parts;
  const by = (kind: Where['in']) => values.filter((s) => s.where.in === kind);
  if (by('path').length) {
    const segments = path.split('/');
    for (const s of by('path')) {
      if (s.where.in === 'path') segments[s.where.index + 1] = encodeURIComponent(s.value);
    }
    path = segments.join('/');
  }
  if (by('query').length) {
    let pairs = [...new URLSearchParams(query)];
    for (const s of by('query'))
      if (s.where.in === 'query') pairs = replaceNth(pairs, s.where.name, s.where.occurrence, s.value);
    query = `?${new URLSearchParams(pairs).toString()}`;
  }
  for (const s of by('header')) {
    if (s.where.in !== 'header') continue;
    const where = s.where;
    headers = headers.map(([n, v]) =>
      n.toLowerCase() === where.name ? [n, `${where.prefix}${s.value}`] : [n, v],
    );
  }
  if (body && by('form').length) {
    let pairs = [...new URLSearchParams(body.text)];
    for (const s of by('form'))
      if (s.where.in === 'form') pairs = replaceNth(pairs, s.where.name, s.where.occurrence, s.value);
    body = { ...body, text: new URLSearchParams(pairs).toString() };
  }
  if (body && by('json').length) {
    const doc = JSON.parse(body.text) as unknown;
    for (const s of by('json')) if (s.where.in === 'json') setJson(doc, s.where.path, s.value);
    body = { ...body, text: JSON.stringify(doc) };
  }
  if (body && by('multipart').length) body = { ...body, text: fillMultipart(body, by('multipart')) };
  return { path, query, headers, body };
}

function setJson(doc: unknown, path: (string | number)[], value: string): void {
  let node = doc as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  // Keep the JSON type: an id that was a number stays a number.
  node[last] = typeof node[last] === 'number' && Number.isFinite(Number(value)) ? Number(value) : value;
}

function fillMultipart(body: { mimeType: string; text: string }, values: readonly Slot[]): string {
  const boundary = boundaryOf(body.mimeType)!;
  const parts = multipartParts(body.text, boundary)!;
  const seen = new Map<string, number>();
  for (const part of parts) {
    if (part.name === null || part.file) continue;
    const n = seen.get(part.name) ?? 0;
    seen.set(part.name, n + 1);
    const value = values.find(
      (s) => s.where.in === 'multipart' && s.where.name === part.name && s.where.occurrence === n,
    );
    if (value) part.content = value.value;
  }
  const delimiter = `--${boundary}`;
  return `${parts.map((p) => `${delimiter}\r\n${p.head}\r\n\r\n${p.content}\r\n`).join('')}${delimiter}--\r\n`;
}
