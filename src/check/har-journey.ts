/**
 * A recorded journey replayed against live replicas. What the browser sent is
 * sent again, with three corrections a replay needs: cookies come from the live
 * jar; values the recording shows an earlier response producing (a CSRF token
 * in a hidden field, an OAuth `state` in a redirect, an id in a JSON answer, a
 * Socket.IO session id) are read from the live answer instead; and browser
 * cache validators are dropped, since the replay has no cache.
 */
import { CheckError } from './errors.js';
import { type Extractor, extract, findExtractor, ResponseView } from './extract.js';
import { mediaType } from './facts.js';
import { type BodyMissing, headerOf, type RecordedExchange, type Recording } from './har.js';
import type { Correlated, Journey, ReplaySession, StepInput, StepRecord } from './replay.js';
import { fillSlots, type RequestParts, type Slot, slotsOf, type Where } from './slots.js';

export interface Skipped {
  entry: number;
  request: string;
  reason: string;
}

/** What a HAR step sends, and what the recording could not give it. */
export interface HarStepInput extends StepInput {
  /**
   * Why the recording has no body for a request that carried one (Chromium never
   * records a file upload): a step the app rejects is then explained by it.
   */
  bodyMissing?: BodyMissing;
}

interface Substitution {
  slot: Slot;
  from: number;
  extractor: Extractor;
  /** Taken by name from a page the recording has no body of: only if the live field is hidden. */
  byName?: true;
}

export interface HarJourney extends Journey {
  origin: URL;
  steps: RecordedExchange[];
  skipped: Skipped[];
}

// Hop-by-hop (RFC 9110 §7.6.1), computed by the sender, or about a cache the replay does not have.
const dropped =
  /^(:.*|host|connection|keep-alive|proxy-.*|te|trailer|transfer-encoding|upgrade|content-length|cookie|accept-encoding|if-none-match|if-modified-since)$/i;

/**
 * `localhost`, `127.0.0.0/8` and `[::1]` at one scheme and port are one server, and browsers
 * mix them in one journey: a page opened on 127.0.0.1 whose app redirects to its configured
 * `localhost` base URL (Next.js does). Every other host is an origin of its own.
 */
function appKey(url: URL): string {
  const loopback =
    url.hostname === 'localhost' || url.hostname === '[::1]' || /^127(\.\d+){3}$/.test(url.hostname);
  return loopback ? `${url.protocol}//loopback:${url.port}` : url.origin;
}

function urlOr(href: string, base: URL): URL | null {
  try {
    return new URL(href, base);
  } catch {
    return null;
  }
}

const isHttp = (ex: RecordedExchange) => ex.url.protocol === 'http:' || ex.url.protocol === 'https:';

/**
 * The app's origin: that of the first page the browser loaded, since a recording often opens
 * with a request the page did not make (an extension's, a CDN preconnect, analytics from the
 * last tab). Then the first HTML answer, then the first request.
 */
function chooseOrigin(recording: Recording): { origin: URL; why: string } | null {
  const http = recording.exchanges.filter(isHttp);
  if (!http.length) return null;
  const page = recording.pageUrl;
  const named = page ? http.find((e) => appKey(e.url) === appKey(page)) : undefined;
  if (named) return { origin: named.url, why: 'the origin of the page the recording names first' };
  const loaded =
    http.find((e) => e.document) ??
    http.find((e) => /html/i.test(e.response.mimeType) && e.response.status < 400);
  if (!loaded) return { origin: http[0]!.url, why: "the first request's origin" };
  // A typed address the site redirects from (http: to https:, shop.example to www.shop.example)
  // is not where the journey happens: follow such hops to the page that answered.
  let first = loaded;
  for (let hops = 0; hops < 5 && first.response.status >= 300 && first.response.status < 400; hops++) {
    const location = headerOf(first.response.headers, 'location');
    const next = location === undefined ? null : urlOr(location, first.url);
    const bare = (url: URL) => url.hostname.replace(/^www\./, '');
    if (!next || appKey(next) === appKey(first.url) || bare(next) !== bare(first.url)) break;
    const landed = http.find((e) => e.entry > first.entry && e.url.href === next.href);
    if (!landed) break;
    first = landed;
  }
  return { origin: first.url, why: "the first page's origin" };
}

function skipReason(ex: RecordedExchange, app: string): string | null {
  if (!isHttp(ex)) return `not HTTP (${ex.url.protocol})`;
  if (appKey(ex.url) !== app) return `another origin (${ex.url.host})`;
  if (ex.fromCache) return "answered from the browser's cache";
  if (ex.response.status === 0) return 'it never completed in the recording';
  if (ex.response.status === 101 || /websocket/i.test(headerOf(ex.headers, 'upgrade') ?? '')) {
    return 'a WebSocket (its messages are not replayed)';
  }
  if (/text\/event-stream/i.test(ex.response.mimeType)) return 'an event stream (it never ends)';
  return null;
}

function partsOf(ex: RecordedExchange): RequestParts {
  return { path: ex.url.pathname, query: ex.url.search, headers: ex.headers, body: ex.body };
}

function describeSlot(where: Where): string {
  switch (where.in) {
    case 'path':
      return `path segment ${where.index + 1}`;
    case 'header':
      return `header ${where.name}`;
    case 'json':
      return `json ${where.path.join('.')}`;
    default:
      return `${where.in} ${where.name}`;
  }
}

/** For each replayable step, the values it sends that an earlier response produced. */
function correlate(steps: RecordedExchange[]): Substitution[][] {
  const views = steps.map(
    (s) => new ResponseView(s.response.headers, s.response.setCookies, s.response.mimeType, s.response.text),
  );
  const slots = steps.map((s) => slotsOf(partsOf(s)));
  const sent = slots.map((list) => new Set(list.map((s) => s.value)));
  return steps.map((_, i) => {
    const out: Substitution[] = [];
    for (const slot of slots[i]!) {
      const v = slot.value;
      let first = -1;
      for (let j = 0; j < i && first === -1; j++) if (findExtractor(views[j]!, v)) first = j;
      if (first === -1) {
        const fallback = byName(slot, i, views);
        if (fallback) out.push(fallback);
        continue;
      }
      // A value the browser sent before any response showed it is the user's input, not the app's.
      const firstSent = sent.findIndex((values) => values.has(v));
      if (firstSent !== -1 && firstSent <= first) continue;
      for (let j = i - 1; j >= first; j--) {
        const extractor = findExtractor(views[j]!, v);
        if (extractor) {
          out.push({ slot, from: j, extractor });
          break;
        }
      }
    }
    return out;
  });
}

/**
 * Recordings without response bodies (sanitized exports, Playwright's `content: 'omit'`):
 * a posted form field takes the value of the same-named field of the last page, as a
 * browser submitting that page's form would.
 */
function byName(slot: Slot, i: number, views: ResponseView[]): Substitution | null {
  const where = slot.where;
  if (where.in !== 'form' && where.in !== 'multipart') return null;
  for (let j = i - 1; j >= 0; j--) {
    const view = views[j]!;
    if (!/html/.test(view.type)) continue;
    if (view.text !== null) return null;
    return {
      slot,
      from: j,
      extractor: { kind: 'field', name: where.name, occurrence: where.occurrence },
      byName: true,
    };
  }
  return null;
}

const liveViews = new WeakMap<StepRecord, ResponseView>();

function liveView(record: StepRecord): ResponseView {
  let view = liveViews.get(record);
  if (!view) {
    const type = mediaType(record.response.headers);
    const text = /json|html|xml|^text\/|javascript/.test(type) ? record.response.body.toString('utf8') : null;
    view = new ResponseView(record.response.headers, record.response.setCookies, type, text);
    liveViews.set(record, view);
  }
  return view;
}

/**
 * The journey a HAR file records, against the app at `origin` (default: the first page's).
 *
 * @example
 * const journey = harJourney(readHar('journey.har'), 'journey.har');
 * journey.skipped; // requests to other origins, WebSockets, cached answers
 */
export function harJourney(recording: Recording, file: string, origin?: string): HarJourney {
  const total = recording.exchanges.length;
  if (!recording.exchanges.some(isHttp)) {
    throw new CheckError(
      'UNPINNED_ERR_CHECK_HAR_INVALID',
      `${file} has no HTTP request to replay (${total} ${total === 1 ? 'entry' : 'entries'}${total ? ', none of them HTTP' : ''})${total ? '' : ': it was saved before anything was recorded'}. Open the Network tab first, tick "Preserve log", walk through the journey, then save the HAR (docs/check.md#record-a-journey).`,
    );
  }
  let appOrigin: URL;
  let why = 'given with --origin';
  if (origin !== undefined) {
    try {
      appOrigin = new URL(origin);
    } catch (cause) {
      throw new CheckError(
        'UNPINNED_ERR_CHECK_USAGE',
        `--origin must be a URL such as https://shop.example, got "${origin}".`,
        { cause },
      );
    }
  } else {
    const chosen = chooseOrigin(recording)!;
    appOrigin = new URL(chosen.origin.origin);
    why = chosen.why;
  }
  const app = appKey(appOrigin);
  const steps: RecordedExchange[] = [];
  const skipped: Skipped[] = [];
  for (const ex of recording.exchanges) {
    const reason = skipReason(ex, app);
    if (reason) skipped.push({ entry: ex.entry, request: `${ex.method} ${ex.url.href}`, reason });
    else steps.push(ex);
  }
  if (!steps.length) {
    const others = [...new Set(recording.exchanges.filter(isHttp).map((e) => e.url.origin))].filter(
      (o) => o !== appOrigin.origin,
    );
    throw new CheckError(
      'UNPINNED_ERR_CHECK_HAR_INVALID',
      `${file} has no request to ${appOrigin.origin} (${why}) that can be replayed: ${total} entries, all skipped (${[...new Set(skipped.map((s) => s.reason))].join('; ')}). If your app is at another origin in the recording${others.length ? ` (${others.slice(0, 5).join(', ')})` : ''}, name it with --origin <url>; otherwise record the journey against your app.`,
    );
  }
  const substitutions = correlate(steps);
  // Cookies the browser had that no recorded response set: set by the page's script or before recording.
  const setByApp = new Set(
    steps.flatMap((s) => s.response.setCookies.map((line) => line.split('=')[0]!.trim())),
  );
  // Every name the app had in the recording means "this app" in its answers' absolute URLs.
  const origins = [...new Set([appOrigin.origin, ...steps.map((s) => s.url.origin)])];
  return {
    origin: appOrigin,
    steps,
    skipped,
    origins,
    async play(session: ReplaySession) {
      for (let i = 0; i < steps.length; i++) {
        const ex = steps[i]!;
        for (const [name, value] of ex.cookies) {
          if (!setByApp.has(name) && !session.jar.has(name)) session.jar.seed(name, value);
        }
        const values: Slot[] = [];
        const correlated: Correlated[] = [];
        for (const sub of substitutions[i]!) {
          const producer = session.records[sub.from];
          const view = producer ? liveView(producer) : undefined;
          // A browser posts a page's hidden fields as the page had them and the others as the
          // user typed them: what the recording shows for those is the user's input.
          if (sub.byName && sub.extractor.kind === 'field') {
            const { name, occurrence } = sub.extractor;
            const live = view?.html?.fields.filter((f) => f.name === name)[occurrence];
            if (live && live.type !== 'hidden') continue;
          }
          const value = view ? extract(sub.extractor, view, (n) => session.jar.value(n)) : undefined;
          correlated.push({
            slot: describeSlot(sub.slot.where),
            from: sub.from,
            found: value !== undefined,
            changed: value !== undefined && value !== sub.slot.value,
          });
          if (value !== undefined && value !== sub.slot.value) values.push({ where: sub.slot.where, value });
        }
        const parts = fillSlots(partsOf(ex), values);
        // Each step's own Host: with loopback names mixed, the app answered each as it was asked.
        const headers: [string, string][] = [['host', ex.url.host]];
        for (const [name, value] of parts.headers) if (!dropped.test(name)) headers.push([name, value]);
        headers.push(['accept-encoding', 'identity']);
        // The app ran behind TLS when recorded: say so, as its proxy did (secure cookies).
        if (ex.url.protocol === 'https:') headers.push(['x-forwarded-proto', 'https']);
        if (parts.body && !headers.some(([n]) => n.toLowerCase() === 'content-type') && parts.body.mimeType) {
          headers.push(['content-type', parts.body.mimeType]);
        }
        const input: HarStepInput = {
          method: ex.method,
          path: `${parts.path}${parts.query}`,
          headers,
          body: parts.body ? Buffer.from(parts.body.text, 'utf8') : null,
          recordedStatus: ex.response.status,
          correlated,
          ...(ex.bodyMissing !== null && { bodyMissing: ex.bodyMissing }),
        };
        await session.send(input);
      }
    },
  };
}
