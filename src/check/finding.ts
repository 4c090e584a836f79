/**
 * The finding: the first divergent step, explained. Probes (culprits.ts) run
 * the journey again up to that step to tell memory, disk and a stale copy apart;
 * the request, the difference and the cookies' origins do the rest.
 */

import { compareAt, type Divergence } from './compare.js';
import { type CulpritId, culprits, diagnose, type Probes, writerOf } from './culprits.js';
import { CheckError } from './errors.js';
import { mediaType } from './facts.js';
import type { HarStepInput } from './har-journey.js';
import { scanHtml } from './html.js';
import type { Difference, StepModel } from './noise.js';
import type { Plan, Run, StepRecord } from './replay.js';

export interface Finding {
  step: number;
  request: string;
  kind: Difference['kind'];
  expected: string | number | null;
  got: string | number | null;
  wroteOn: string | null;
  readOn: string;
  culprit: string;
  fix: string;
  culpritId: CulpritId;
  /** The fact that differed (`status`, `json$.cart.tea`, a text node). */
  key: string;
  writtenAtStep: number | null;
  /** The reading replica had been restarted just before this step. */
  restarted: boolean;
  /** The two answers in a line each: status, redirect target or the start of the body. */
  expectedResponse: string;
  gotResponse: string;
  evidence: string[];
}

function excerpt(record: StepRecord, length = 160): string {
  const text = record.response.body.toString('utf8');
  const visible = /html/.test(mediaType(record.response.headers)) ? scanHtml(text).text.join(' ') : text;
  return visible.replace(/\s+/g, ' ').trim().slice(0, length);
}

function responseLine(record: StepRecord | undefined): string {
  if (!record) return '(not sent)';
  const { status, statusText, headers } = record.response;
  const location = headers.find(([n]) => n === 'location')?.[1];
  const body = excerpt(record, 80);
  return `${status} ${statusText}${location ? ` → ${location}` : body ? `: ${body}` : ''}`;
}

/** A journey the app rejects on one replica cannot say anything about several. */
export function assertReplays(run: Run): void {
  for (const record of run.records) {
    const recorded = record.input.recordedStatus;
    if (recorded === undefined || recorded <= 0 || recorded >= 400 || record.response.status < 400) continue;
    const missed = (record.input.correlated ?? []).filter((c) => !c.found);
    const hint = missed.length
      ? ` ${missed.map((c) => `${c.slot} (from step ${c.from + 1})`).join(', ')} could not be found in the live answers, so the recorded values were sent.`
      : '';
    const body = excerpt(record);
    const rejected = `The app rejects step ${record.step + 1} (${record.label}) even with every step on one replica: the recording shows ${recorded}, ${record.machine} answered ${record.response.status}${body ? ` (${body})` : ''}.`;
    // A body the recording left out, at this step or before it, explains the rejection better
    // than any advice about how the journey was recorded. (The replay keeps extra input fields.)
    const lacking = run.records
      .slice(0, record.step + 1)
      .map((r) => ({ r, missing: (r.input as HarStepInput).bodyMissing }))
      .reverse()
      .find(({ missing }) => missing);
    if (lacking?.missing) {
      throw new CheckError(
        'UNPINNED_ERR_CHECK_REJECTED',
        `${rejected} The recording left out the request body of step ${lacking.r.step + 1}, ${lacking.r.label} (${lacking.missing.why}): ${lacking.missing.fix}.`,
      );
    }
    throw new CheckError(
      'UNPINNED_ERR_CHECK_REJECTED',
      `${rejected}${hint} A journey must replay on one replica before replicas can be compared: record it against this app and version, with response bodies ("Save all as HAR with content"), and give the app with --env what it had when recorded.`,
    );
  }
}

function display(kind: Difference['kind'], value: string | null): string | number | null {
  if (value === null) return null;
  if (kind === 'status' && /^\d+$/.test(value)) return Number(value);
  if (value.startsWith('s:')) return JSON.stringify(value.slice(2));
  if (value.startsWith('n:')) return value.slice(2);
  return value;
}

export type Runner = (plan: Plan, what: string) => Promise<Run>;

export async function explain(
  divergence: Divergence,
  ctx: {
    reference: Run;
    rotated: Run;
    models: StepModel[];
    rotation: Plan;
    run: Runner;
    names: string[];
    /** The keys the rotation left in the shared store (null when not known). */
    shared?: string[] | null;
  },
): Promise<Finding> {
  const { reference, rotated, models, rotation, run, names } = ctx;
  const k = Math.min(divergence.step, rotated.records.length - 1);
  const reader = rotated.records[k]!;
  const probes: Probes = { readerRestartedMatches: null, oneReplicaRestartedMatches: null };
  const probe = async (plan: Plan, what: string) => {
    try {
      const result = await run({ ...plan, stopAfter: k, tolerant: true }, what);
      const record = result.records[k];
      return record ? compareAt(models, reference, record) === null : false;
    } catch (error) {
      // A probe that cannot run leaves the question open; the finding stands without it.
      return error instanceof CheckError ? null : Promise.reject(error);
    }
  };
  if (divergence.difference.kind !== 'journey' && !/socket\.io/.test(reader.input.path)) {
    // One replica, restarted before the step: wrong again means the state was in memory.
    probes.oneReplicaRestartedMatches = await probe(
      {
        name: 'probe-one-replica',
        machines: [names[0]!],
        route: () => names[0]!,
        restarts: [{ step: k, machine: names[0]! }],
      },
      `probe: every step on ${names[0]}, restarted just before step ${k + 1}`,
    );
    // Right after a restart: on disk, or a stale copy the reading replica held. Restarting
    // just the reader tells them apart.
    if (probes.oneReplicaRestartedMatches) {
      const used = [...new Set(rotated.records.slice(0, k + 1).map((r) => r.machine))];
      probes.readerRestartedMatches = await probe(
        {
          ...rotation,
          name: 'probe-restart-reader',
          machines: names.filter((n) => used.includes(n)),
          restarts: [...(rotation.restarts ?? []), { step: k, machine: reader.machine }],
        },
        `probe: the rotation again, ${reader.machine} restarted just before step ${k + 1}`,
      );
    }
  }
  const { difference } = divergence;
  const diagnosis = diagnose({
    reader,
    reference: reference.records[k]!,
    difference,
    probes,
    shared: ctx.shared ?? null,
    earlier: rotated.records.slice(0, k),
  });
  const writer = writerOf(rotated.records, k, diagnosis.id);
  return {
    step: divergence.step + 1,
    request: reference.records[divergence.step]?.label ?? reader.label,
    kind: difference.kind,
    expected: display(difference.kind, difference.expected),
    got: display(difference.kind, difference.got),
    wroteOn: writer?.machine ?? null,
    readOn: reader.machine,
    culprit: diagnosis.culprit ?? culprits[diagnosis.id].culprit,
    fix: diagnosis.fix ?? culprits[diagnosis.id].fix,
    culpritId: diagnosis.id,
    key: difference.key,
    writtenAtStep: writer ? writer.step + 1 : null,
    restarted: reader.restarted,
    expectedResponse: responseLine(reference.records[divergence.step]),
    gotResponse: responseLine(rotated.records[divergence.step]),
    evidence: diagnosis.evidence,
  };
}
