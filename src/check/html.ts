/**
 * Just enough of an HTML reader for the check: visible text, links, forms with
 * their fields, and meta tags. Tolerant of anything (it never throws), not a
 * conforming parser: script, style and template contents are skipped as raw
 * text (https://html.spec.whatwg.org/multipage/parsing.html#parsing-html-fragments),
 * attributes are read with or without quotes.
 */

export interface HtmlField {
  name: string;
  type: string;
  value: string;
}

export interface HtmlForm {
  method: string;
  action: string;
  fields: HtmlField[];
}

export interface HtmlView {
  /** Visible text nodes in document order, whitespace collapsed. */
  text: string[];
  /** `href` of every link. */
  links: string[];
  forms: HtmlForm[];
  /** Every named field in document order, inside a form or not. */
  fields: HtmlField[];
  meta: { name: string; content: string }[];
}

const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

/**
 * Character references (https://html.spec.whatwg.org/multipage/syntax.html#character-references), the common ones.
 *
 * @example
 * decodeEntities('fish &amp; chips &#x2014; &lt;3'); // 'fish & chips — <3'
 */
export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, ref: string) => {
    if (ref[0] === '#') {
      const code =
        ref[1] === 'x' || ref[1] === 'X' ? Number.parseInt(ref.slice(2), 16) : Number(ref.slice(1));
      return Number.isFinite(code) && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return named[ref.toLowerCase()] ?? whole;
  });
}

function attributesOf(source: string): Map<string, string> {
  const attributes = new Map<string, string>();
  const pattern = /([^\s=/>"']+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g;
  for (const m of source.matchAll(pattern)) {
    const name = m[1]!.toLowerCase();
    if (!attributes.has(name)) attributes.set(name, decodeEntities(m[2] ?? m[3] ?? m[4] ?? ''));
  }
  return attributes;
}

const rawText = new Set(['script', 'style', 'template', 'noscript', 'textarea']);
const tagPattern =
  /<!--[\s\S]*?-->|<!\[CDATA\[[\s\S]*?\]\]>|<![^>]*>|<\/?([a-zA-Z][a-zA-Z0-9:-]*)((?:[^>"']|"[^"]*"|'[^']*')*)>/g;

/**
 * @example
 * scanHtml('<form method="post" action="/login"><input type="hidden" name="_csrf" value="x1"></form>').forms[0];
 * // { method: 'POST', action: '/login', fields: [{ name: '_csrf', type: 'hidden', value: 'x1' }] }
 */
export function scanHtml(html: string): HtmlView {
  const view: HtmlView = { text: [], links: [], forms: [], fields: [], meta: [] };
  let form: HtmlForm | null = null;
  let at = 0;
  const addText = (raw: string) => {
    const text = decodeEntities(raw).replace(/\s+/g, ' ').trim();
    if (text) view.text.push(text);
  };
  tagPattern.lastIndex = 0;
  for (let m = tagPattern.exec(html); m; m = tagPattern.exec(html)) {
    addText(html.slice(at, m.index));
    at = tagPattern.lastIndex;
    const tag = m[1]?.toLowerCase();
    if (!tag) continue;
    const closing = m[0][1] === '/';
    if (closing) {
      if (tag === 'form') form = null;
      continue;
    }
    const attributes = attributesOf(m[2] ?? '');
    if (rawText.has(tag)) {
      const end = html.toLowerCase().indexOf(`</${tag}`, at);
      const inner = html.slice(at, end === -1 ? html.length : end);
      if (tag === 'textarea') addField(view, form, attributes, 'textarea', decodeEntities(inner));
      at = end === -1 ? html.length : end;
      tagPattern.lastIndex = at;
      continue;
    }
    if (tag === 'a' && attributes.has('href')) view.links.push(attributes.get('href')!);
    else if (tag === 'meta' && attributes.has('content')) {
      const name = attributes.get('name') ?? attributes.get('property') ?? attributes.get('http-equiv');
      if (name) view.meta.push({ name, content: attributes.get('content')! });
    } else if (tag === 'form') {
      form = {
        method: (attributes.get('method') ?? 'GET').toUpperCase(),
        action: attributes.get('action') ?? '',
        fields: [],
      };
      view.forms.push(form);
    } else if (tag === 'input' || tag === 'button' || tag === 'select') {
      addField(
        view,
        form,
        attributes,
        attributes.get('type')?.toLowerCase() ?? tag,
        attributes.get('value') ?? '',
      );
    }
  }
  addText(html.slice(at));
  return view;
}

function addField(
  view: HtmlView,
  form: HtmlForm | null,
  attributes: Map<string, string>,
  type: string,
  value: string,
): void {
  const name = attributes.get('name');
  if (!name) return;
  const field = { name, type, value };
  view.fields.push(field);
  form?.fields.push(field);
}
