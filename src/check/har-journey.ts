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
import { headerOf, type RecordedExchange, type Recording } from './har.js';
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
  bodyMissing?: string;
}

interface Substitution {
  slot: Slot;
  from: number;
  extractor: Extractor;
}

export interface HarJourney extends Journey {
  origin: URL;
  steps: RecordedExchange[];
  skipped: Skipped[];
}

// Hop-by-hop (RFC 9110 §7.6.1), computed by the sender, or about a cache the replay does not have.
const dropped =
  /^(:.*|host|connection|keep-alive|proxy-.*|te|trailer|transfer-encoding|upgrade|content-length|cookie|accept-encoding|if-none-match|if-modified-since)$/i;

function skipReason(ex: RecordedExchange, origin: string): string | null {
  if (ex.url.protocol !== 'http:' && ex.url.protocol !== 'https:') return `not HTTP (${ex.url.protocol})`;
  if (ex.url.origin !== origin) return `another origin (${ex.url.host})`;
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
    return { slot, from: j, extractor: { kind: 'field', name: where.name, occurrence: where.occurrence } };
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
 * The journey a HAR file records, against the app at `origin` (default: the first request's).
 *
 * @example
 * const journey = harJourney(readHar('journey.har'), 'journey.har');
 * journey.skipped; // requests to other origins, WebSockets, cached answers
 */
export function harJourney(recording: Recording, file: string, origin?: string): HarJourney {
  const first = recording.exchanges.find((e) => e.url.protocol === 'http:' || e.url.protocol === 'https:');
  let appOrigin: URL;
  try {
    appOrigin = new URL(origin ?? first?.url.origin ?? '');
  } catch (cause) {
    throw new CheckError(
      'UNPINNED_ERR_CHECK_USAGE',
      `--origin must be a URL such as https://shop.example, got "${origin}".`,
      {
        cause,
      },
    );
  }
  const steps: RecordedExchange[] = [];
  const skipped: Skipped[] = [];
  for (const ex of recording.exchanges) {
    const reason = skipReason(ex, appOrigin.origin);
    if (reason) skipped.push({ entry: ex.entry, request: `${ex.method} ${ex.url.href}`, reason });
    else steps.push(ex);
  }
  if (!steps.length) {
    throw new CheckError(
      'UNPINNED_ERR_CHECK_HAR_INVALID',
      `${file} has no request to ${appOrigin.origin} that can be replayed (${recording.exchanges.length} entries, ${skipped.length} skipped). Record the journey against your app, or name its origin with --origin.`,
    );
  }
  const substitutions = correlate(steps);
  // Cookies the browser had that no recorded response set: set by the page's script or before recording.
  const setByApp = new Set(
    steps.flatMap((s) => s.response.setCookies.map((line) => line.split('=')[0]!.trim())),
  );
  const origins = [appOrigin.origin];
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
          const value = producer
            ? extract(sub.extractor, liveView(producer), (n) => session.jar.value(n))
            : undefined;
          correlated.push({
            slot: describeSlot(sub.slot.where),
            from: sub.from,
            found: value !== undefined,
            changed: value !== undefined && value !== sub.slot.value,
          });
          if (value !== undefined && value !== sub.slot.value) values.push({ where: sub.slot.where, value });
        }
        const parts = fillSlots(partsOf(ex), values);
        const headers: [string, string][] = [['host', appOrigin.host]];
        for (const [name, value] of parts.headers) if (!dropped.test(name)) headers.push([name, value]);
        headers.push(['accept-encoding', 'identity']);
        // The app ran behind TLS when recorded: say so, as its proxy did (secure cookies).
        if (appOrigin.protocol === 'https:') headers.push(['x-forwarded-proto', 'https']);
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
