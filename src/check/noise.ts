/**
 * Noise learned from single-replica runs, and the comparison that ignores it.
 *
 * The reference is the first single-replica run; every other single-replica run
 * of the same journey teaches what varies with no change of replica at all. A
 * value that differed is masked; a container whose keys differed (a map keyed
 * by random ids, a list of random length) tolerates keys it did not have; text
 * is a multiset, and a text node that differed becomes a template whose varying
 * words match anything. What is left must be equal on every replica.
 */
import { ancestors, type Facts } from './facts.js';

export type DifferenceKind =
  | 'status'
  | 'redirect'
  | 'cookie'
  | 'content-type'
  | 'header'
  | 'json'
  | 'form'
  | 'html'
  | 'text'
  | 'body'
  /** A script made another request than in the single-replica runs. */
  | 'request'
  /** A script stopped before the journey's end. */
  | 'journey';

export interface Difference {
  kind: DifferenceKind;
  /** The fact that differs (`status`, `json$.cart.tea`, `cookie.sid`, a text node). */
  key: string;
  expected: string | null;
  got: string | null;
}

export interface StepModel {
  reference: Facts;
  masked: Set<string>;
  wild: Set<string>;
  stable: Map<string, number>;
  templates: RegExp[];
  /** Text nodes came and went between runs: extra text is not a difference. */
  loose: boolean;
  /** Text nodes that differed between runs, as they were: one of them missing is not a difference. */
  varying: Set<string>;
  /** Path segments (by index) that differed between runs: an id the app made anew each run. */
  segments: Set<number>;
  /** Facts masked, for the report. */
  noise: number;
}

function containersOf(facts: Facts): Set<string> {
  const out = new Set<string>();
  for (const key of facts.scalar.keys()) for (const a of ancestors(key)) out.add(a);
  return out;
}

const counts = (list: readonly string[]) => {
  const m = new Map<string, number>();
  for (const s of list) m.set(s, (m.get(s) ?? 0) + 1);
  return m;
};

/** Multiset difference a − b, in a's order. */
function minus(list: readonly string[], other: Map<string, number>): string[] {
  const left = new Map(other);
  return list.filter((s) => {
    const n = left.get(s) ?? 0;
    if (n > 0) left.set(s, n - 1);
    return n === 0;
  });
}

const words = (s: string) => s.split(' ');
const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A text node that differed: its equal words kept, its varying words matching any word. */
function template(a: string, b: string): RegExp {
  const wa = words(a);
  const wb = words(b);
  return new RegExp(`^${wa.map((w, i) => (w === wb[i] ? escapeRegExp(w) : '\\S+')).join(' ')}$`);
}

/** Pairs each varying node of one run with the most alike node of the other (same word count). */
function pairTemplates(varyingA: string[], varyingB: string[]): { templates: RegExp[]; unpaired: boolean } {
  const pool = [...varyingB];
  const templates: RegExp[] = [];
  let unpaired = false;
  for (const a of varyingA) {
    const wa = words(a);
    let best = -1;
    let bestScore = -1;
    pool.forEach((b, i) => {
      const wb = words(b);
      if (wb.length !== wa.length) return;
      const score = wa.filter((w, j) => w === wb[j]).length;
      if (score > bestScore) [best, bestScore] = [i, score];
    });
    if (best === -1) {
      unpaired = true;
      continue;
    }
    templates.push(template(a, pool[best]!));
    pool.splice(best, 1);
  }
  return { templates, unpaired: unpaired || pool.length > 0 };
}

/**
 * Learns one step's noise from its reference run and the other single-replica runs.
 *
 * @example
 * const model = learnStep(baseline1.facts, [baseline2.facts]);
 * compareStep(model, rotated.facts); // null when only noise differs
 */
export function learnStep(reference: Facts, others: readonly Facts[]): StepModel {
  const masked = new Set<string>();
  const wild = new Set<string>();
  let stable = counts(reference.text);
  const templates: RegExp[] = [];
  let loose = false;
  const varying = new Set<string>();
  const refContainers = containersOf(reference);
  for (const other of others) {
    const otherContainers = containersOf(other);
    for (const key of new Set([...reference.scalar.keys(), ...other.scalar.keys()])) {
      const a = reference.scalar.get(key);
      const b = other.scalar.get(key);
      // Equal once normalized but not before (two random tokens): still noise.
      if (a === b && (reference.raw.get(key) ?? a) === (other.raw.get(key) ?? b)) continue;
      masked.add(key);
      if (a === undefined || b === undefined) {
        // The innermost container both runs have is the one whose keys vary.
        const shared = ancestors(key).find((c) => refContainers.has(c) && otherContainers.has(c));
        if (shared) wild.add(shared);
      }
    }
    const common = new Map<string, number>();
    const otherCounts = counts(other.text);
    for (const [s, n] of stable) {
      const m = Math.min(n, otherCounts.get(s) ?? 0);
      if (m > 0) common.set(s, m);
    }
    const [mine, theirs] = [minus(reference.text, common), minus(other.text, common)];
    for (const node of [...mine, ...theirs]) varying.add(node);
    const paired = pairTemplates(mine, theirs);
    templates.push(...paired.templates);
    loose ||= paired.unpaired;
    stable = common;
  }
  return {
    reference,
    masked,
    wild,
    stable,
    templates,
    loose,
    varying,
    segments: new Set(),
    noise: masked.size + templates.length,
  };
}

const order: [RegExp, DifferenceKind][] = [
  [/^status$/, 'status'],
  [/^location/, 'redirect'],
  [/^cookie\./, 'cookie'],
  [/^content-type$/, 'content-type'],
  [/^header\./, 'header'],
  [/^json/, 'json'],
  [/^form/, 'form'],
  [/^meta\./, 'html'],
  [/^body$/, 'body'],
];

function kindOf(key: string): DifferenceKind {
  return order.find(([pattern]) => pattern.test(key))?.[1] ?? 'body';
}

/**
 * The first difference beyond noise, most telling first (status before a text node), or null.
 *
 * @example
 * compareStep(learnStep(a, [b]), rotated); // { kind: 'status', key: 'status', expected: '200', got: '302' }
 */
export function compareStep(
  model: StepModel,
  facts: Facts,
  textKind: 'html' | 'text' = 'html',
): Difference | null {
  const found: Difference[] = [];
  const { reference, masked, wild } = model;
  const refContainers = containersOf(reference);
  for (const [key, expected] of reference.scalar) {
    if (masked.has(key)) continue;
    const got = facts.scalar.get(key);
    if (got !== expected) found.push({ kind: kindOf(key), key, expected, got: got ?? null });
  }
  for (const [key, got] of facts.scalar) {
    if (reference.scalar.has(key) || masked.has(key)) continue;
    const container = ancestors(key).find((c) => refContainers.has(c));
    if (container && wild.has(container)) continue;
    found.push({ kind: kindOf(key), key, expected: null, got });
  }
  found.sort((x, y) => rank(x.kind) - rank(y.kind));
  // A page's text says more to a person than its forms and meta tags do ("Log in" where
  // "Logged in as ann" was), so it comes before them, after everything else.
  const primary = found.find((d) => rank(d.kind) < rank('form'));
  return primary ?? compareText(model, facts.text, textKind) ?? found[0] ?? null;
}

const rank = (kind: DifferenceKind) => {
  const i = order.findIndex(([, k]) => k === kind);
  return i === -1 ? order.length : i;
};

function compareText(model: StepModel, text: readonly string[], kind: 'html' | 'text'): Difference | null {
  const gone = minus(
    [...model.stable.keys()].flatMap((s) => Array(model.stable.get(s)).fill(s)),
    counts(text),
  );
  const missing = gone.filter((s) => !model.varying.has(s));
  const added = minus(text, model.stable);
  const noisy = (s: string) => model.varying.has(s) || model.templates.some((t) => t.test(s));
  const extra = added.filter((s) => !noisy(s));
  // A random pick that was alike in every single-replica run here stands in for another
  // pick in this one, which may be one no run drew before: each node excused as missing, and
  // not already answered by an extra node known to vary, excuses the extra node most like it.
  const unanswered = gone.filter((s) => model.varying.has(s)).slice(added.filter(noisy).length);
  for (const excused of unanswered) {
    const size = words(excused).length;
    let best = -1;
    extra.forEach((s, i) => {
      if (best === -1 || Math.abs(words(s).length - size) < Math.abs(words(extra[best]!).length - size))
        best = i;
    });
    if (best !== -1) extra.splice(best, 1);
  }
  const closest = (s: string, pool: readonly string[]) => {
    const w = new Set(words(s));
    let best: string | null = null;
    let score = 0;
    for (const p of pool) {
      const n = words(p).filter((x) => w.has(x)).length;
      if (n > score) [best, score] = [p, n];
    }
    return best;
  };
  const lost = missing[0];
  if (lost !== undefined)
    return { kind, key: lost, expected: lost, got: closest(lost, extra) ?? extra[0] ?? null };
  const surplus = extra[0];
  if (surplus !== undefined && !model.loose) return { kind, key: surplus, expected: null, got: surplus };
  return null;
}
