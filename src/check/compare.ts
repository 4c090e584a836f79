/**
 * A run against the reference run, step by step, with the noise the
 * single-replica runs taught (noise.ts): the first step that differs beyond it.
 */
import type { Facts } from './facts.js';
import { mediaType } from './facts.js';
import { compareStep, type Difference, learnStep, type StepModel } from './noise.js';
import type { Run, StepRecord } from './replay.js';

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

/**
 * One model per step of the reference run.
 *
 * @example
 * const models = learn(baseline1, [baseline2]);
 * firstDivergence(models, baseline1, rotation); // null: stateless
 */
export function learn(reference: Run, others: Run[]): StepModel[] {
  return reference.records.map((rec, i) =>
    learnStep(
      rec.facts,
      others.map((o) => {
        const other = o.records[i];
        // Another request at this step (a script that branched): nothing of it is comparable.
        return other && other.label === rec.label ? other.facts : empty;
      }),
    ),
  );
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
  if (expected.label !== record.label) {
    return { kind: 'request', key: 'request', expected: expected.label, got: record.label };
  }
  return compareStep(models[record.step]!, record.facts, textKind(expected));
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
