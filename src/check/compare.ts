/**
 * A run against the reference run, step by step, with the noise the
 * single-replica runs taught (noise.ts): the first step that differs beyond it.
 */
import type { Facts } from './facts.js';
import { mediaType } from './facts.js';
import { compareStep, type Difference, learnStep, type StepModel } from './noise.js';
import { looksRandom } from './normalize.js';
import type { Run, StepRecord } from './replay.js';
import { decodeSafe } from './slots.js';

export interface StepSummary {
  step: number;
  request: string;
  url: string;
  replica: string;
  restarted: boolean;
  status: number;
  expectedStatus: number;
  same: boolean;
  /** Values masked as noise at this step. */
  noise: number;
  /** Values taken from earlier live answers. */
  correlated: number;
}

const empty: Facts = { scalar: new Map(), raw: new Map(), text: [] };

/** `GET /notes/4f2a?x=1` as its method and path segments (the query is left out, as labels leave it). */
function request(record: StepRecord): { method: string; segments: string[] } {
  const [method = '', path = ''] = record.label.split(' ');
  return { method, segments: path.split('/') };
}

/**
 * Two records are the same request when only what the app made anew differs: a path segment
 * that also differed between single-replica runs (an id created at an earlier step), or two
 * random-looking values. `POST /notes` redirecting to `/notes/<uuid>` makes a new path every
 * run, and the step that reads it is still the same step.
 */
function sameRequest(expected: StepRecord, got: StepRecord, segments: ReadonlySet<number>): boolean {
  const a = request(expected);
  const b = request(got);
  if (a.method !== b.method || a.segments.length !== b.segments.length) return false;
  return a.segments.every(
    (s, i) => s === b.segments[i] || segments.has(i) || (looksRandom(s) && looksRandom(b.segments[i]!)),
  );
}

/** An earlier answer of the run showed `value` (in its body or its Location): the app made it. */
function produced(run: Run, step: number, value: string): boolean {
  const wanted = [value, decodeSafe(value)];
  return run.records
    .slice(0, step)
    .some(({ response }) =>
      wanted.some(
        (v) =>
          response.body.includes(v) || response.headers.some(([n, h]) => n === 'location' && h.includes(v)),
      ),
    );
}

/** The route a step belongs to: its method and path, with the segments that vary (ids) as `*`. */
function route(record: StepRecord, segments: ReadonlySet<number>): string {
  const { method, segments: parts } = request(record);
  return `${method} ${parts.map((p, i) => (segments.has(i) || looksRandom(p) || /^\d+$/.test(p) ? '*' : p)).join('/')}`;
}

/**
 * One model per step of the reference run.
 *
 * Noise is learned per step, then pooled over the steps of one route: a value that varied at
 * one `GET /cart` of a run (a quote drawn from a handful, a retry time) can vary at every
 * `GET /cart`, even where the single-replica runs happened to draw alike; a text that varied
 * anywhere can vary everywhere. Only what varied between runs is pooled, never what a route
 * shows at different steps: "your cart is empty" at step 3 does not excuse it at step 7,
 * where the cart had an item.
 *
 * @example
 * const models = learn(baseline1, [baseline2]);
 * firstDivergence(models, baseline1, rotation); // null: stateless
 */
export function learn(reference: Run, others: Run[]): StepModel[] {
  const models = reference.records.map((rec, i) => {
    const segments = new Set<number>();
    const mine = request(rec);
    const facts = others.map((o) => {
      const other = o.records[i];
      const theirs = other && request(other);
      // Another request at this step (a script that branched): nothing of it is comparable.
      if (!theirs || theirs.method !== mine.method || theirs.segments.length !== mine.segments.length)
        return empty;
      const differing = [...mine.segments.keys()].filter((j) => mine.segments[j] !== theirs.segments[j]);
      const made = (j: number) =>
        (looksRandom(mine.segments[j]!) && looksRandom(theirs.segments[j]!)) ||
        (produced(reference, i, mine.segments[j]!) && produced(o, i, theirs.segments[j]!));
      if (!differing.every(made)) return empty;
      for (const j of differing) segments.add(j);
      return other.facts;
    });
    const model = learnStep(rec.facts, facts);
    model.segments = segments;
    return model;
  });
  const routes = new Map<string, number[]>();
  reference.records.forEach((rec, i) => {
    const key = route(rec, models[i]!.segments);
    routes.set(key, [...(routes.get(key) ?? []), i]);
  });
  for (const steps of routes.values()) {
    if (steps.length < 2) continue;
    const group = steps.map((i) => models[i]!);
    const masked = new Set(group.flatMap((m) => [...m.masked]));
    const wild = new Set(group.flatMap((m) => [...m.wild]));
    const templates = group.flatMap((m) => m.templates);
    const loose = group.some((m) => m.loose);
    for (const m of group) Object.assign(m, { masked, wild, templates, loose });
  }
  // A text that varied between runs anywhere (a quote of the day in every page's footer) is
  // a random pick wherever it shows, also on a page the journey opened once.
  const varying = new Set(models.flatMap((m) => [...m.varying]));
  for (const m of models) m.varying = varying;
  return models;
}

export interface Divergence {
  step: number;
  difference: Difference;
}

function textKind(record: StepRecord): 'html' | 'text' {
  return /html/.test(mediaType(record.response.headers)) ? 'html' : 'text';
}

export function compareAt(models: StepModel[], reference: Run, record: StepRecord): Difference | null {
  const expected = reference.records[record.step];
  if (!expected) return null;
  const model = models[record.step]!;
  if (!sameRequest(expected, record, model.segments)) {
    return { kind: 'request', key: 'request', expected: expected.label, got: record.label };
  }
  return compareStep(model, record.facts, textKind(expected));
}

export function firstDivergence(models: StepModel[], reference: Run, run: Run): Divergence | null {
  for (const record of run.records) {
    const difference = compareAt(models, reference, record);
    if (difference) return { step: record.step, difference };
  }
  const missing = reference.records[run.records.length];
  if (missing) {
    return {
      step: run.records.length,
      difference: {
        kind: 'journey',
        key: 'journey',
        expected: missing.label,
        got: run.aborted ?? 'the journey ended here',
      },
    };
  }
  return null;
}

export function stepSummaries(models: StepModel[], reference: Run, rotated: Run): StepSummary[] {
  return rotated.records.map((record) => ({
    step: record.step + 1,
    request: record.label,
    url: record.input.path,
    replica: record.machine,
    restarted: record.restarted,
    status: record.response.status,
    expectedStatus: reference.records[record.step]?.response.status ?? 0,
    same: compareAt(models, reference, record) === null,
    noise: models[record.step]?.noise ?? 0,
    correlated: record.input.correlated?.length ?? 0,
  }));
}
