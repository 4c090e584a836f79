/**
 * One run of a journey: fresh replicas, a fresh shared store, an empty cookie
 * jar, and a plan that says which replica serves each step (and which one is
 * restarted before which step). Every run starts from the same state, so two
 * runs differ only by what the plan changed, and by noise.
 */

import { type LiveResponse, send } from './client.js';
import type { CookieChange, JarCookie } from './cookie-jar.js';
import { CookieJar } from './cookie-jar.js';
import { CheckError } from './errors.js';
import { type Facts, factsOf } from './facts.js';
import { Machine, type MachineOptions } from './machine.js';
import { type Identity, normalizer } from './normalize.js';

/** A value taken from an earlier live response instead of the recording. */
export interface Correlated {
  /** Where it went, e.g. `form _csrf`, `query state`, `header x-csrf-token`. */
  slot: string;
  /** Step whose response it came from. */
  from: number;
  /** False when the live response did not have it (the recorded value was sent). */
  found: boolean;
  /** The live value was not the recorded one (a value the app makes anew each time). */
  changed: boolean;
}

export interface StepInput {
  method: string;
  /** Path and query. */
  path: string;
  headers: [string, string][];
  body: Buffer | null;
  /** Status in the recording, when there is one. */
  recordedStatus?: number;
  correlated?: Correlated[];
}

export interface StepRecord {
  step: number;
  /** `POST /login` */
  label: string;
  input: StepInput;
  response: LiveResponse;
  machine: string;
  /** The machine was restarted just before this step. */
  restarted: boolean;
  identity: Identity;
  facts: Facts;
  cookiesSent: Pick<JarCookie, 'name' | 'setAt' | 'setOn'>[];
  cookieChanges: CookieChange[];
}

export interface ReplaySession {
  readonly records: readonly StepRecord[];
  readonly jar: CookieJar;
  send(input: StepInput): Promise<StepRecord>;
}

/** A recorded journey (HAR) or one written in code (a script). */
export interface Journey {
  /** Origins that mean "this app" in the journey's own absolute URLs. */
  origins: string[];
  play(session: ReplaySession): Promise<void>;
}

export interface Plan {
  name: string;
  /** Machines to start for this run, by name. */
  machines: string[];
  route(step: number): string;
  /** Machines restarted (SIGTERM, then started again) just before a step. */
  restarts?: { step: number; machine: string }[];
  /** Last step to run (probes stop at the step they probe). */
  stopAfter?: number;
  /**
   * A script that throws ends the run instead of the check: on replicas that lost
   * state a script may well fail, and what it saw until then is the evidence.
   */
  tolerant?: boolean;
}

export interface Run {
  plan: Plan;
  records: StepRecord[];
  /** Why a tolerant run ended before the journey did. */
  aborted: string | null;
  ms: number;
}

export interface RunContext {
  machine: MachineOptions;
  /** Puts the shared store back to its empty state (no-op for a store the user gave). */
  resetStore(): Promise<void>;
  timeoutMs: number;
  /** Every machine started, so an interrupted check can stop them all. */
  started: Set<Machine>;
  signal?: AbortSignal;
  onStep?(plan: Plan, record: StepRecord): void;
}

/** Thrown into a journey when the plan has run all the steps it wanted. */
export class StopReplay extends Error {
  constructor() {
    super('the run is complete');
  }
}

/**
 * How a step is named in reports.
 *
 * @example
 * label('POST', '/login?next=%2F'); // 'POST /login'
 */
export function label(method: string, path: string): string {
  return `${method} ${path.split('?')[0]}`;
}

/**
 * Runs `journey` once under `plan`; resolves with every step's record.
 *
 * @example
 * const records = await runPlan({ name: 'baseline-1', machines: ['replica-1'], route: () => 'replica-1' }, journey, context);
 */
export async function runPlan(plan: Plan, journey: Journey, context: RunContext): Promise<Run> {
  const t0 = performance.now();
  await context.resetStore();
  const machines = new Map<string, Machine>();
  const starting = plan.machines.map(async (name) => {
    const machine = Machine.create(context.machine, name, `${plan.name}-${name}`);
    machines.set(name, machine);
    // Known before it starts, so that an interrupted check stops it too.
    context.started.add(machine);
    interrupted(context);
    await machine.start();
  });
  try {
    const started = await Promise.allSettled(starting);
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const records: StepRecord[] = [];
    const jar = new CookieJar();
    const session: ReplaySession = {
      records,
      jar,
      send: async (input) => {
        const step = records.length;
        if (plan.stopAfter !== undefined && step > plan.stopAfter) throw new StopReplay();
        const record = await sendStep(plan, step, input, machines, jar, journey, context);
        records.push(record);
        context.onStep?.(plan, record);
        return record;
      },
    };
    let aborted: string | null = null;
    try {
      await journey.play(session);
    } catch (error) {
      const scriptFailed = error instanceof CheckError && error.code === 'UNPINNED_ERR_CHECK_SCRIPT_INVALID';
      if (scriptFailed && plan.tolerant) aborted = error.message;
      else if (!(error instanceof StopReplay)) throw error;
    }
    return { plan, records, aborted, ms: Math.round(performance.now() - t0) };
  } finally {
    await Promise.allSettled(
      [...machines.values()].map(async (m) => {
        await m.dispose();
        context.started.delete(m);
      }),
    );
  }
}

function interrupted(context: RunContext): void {
  if (context.signal?.aborted) throw new Error('the check was interrupted');
}

async function sendStep(
  plan: Plan,
  step: number,
  input: StepInput,
  machines: Map<string, Machine>,
  jar: CookieJar,
  journey: Journey,
  context: RunContext,
): Promise<StepRecord> {
  interrupted(context);
  const name = plan.route(step);
  const machine = machines.get(name)!;
  const due = new Set((plan.restarts ?? []).filter((r) => r.step === step).map((r) => r.machine));
  for (const m of due) await machines.get(m)?.restart();
  const restarted = due.has(name);
  const stepLabel = label(input.method, input.path);
  const cookies = jar.matching(input.path);
  const headers: [string, string][] = input.headers.filter(([n]) => n.toLowerCase() !== 'cookie');
  if (!headers.some(([n]) => n.toLowerCase() === 'host'))
    headers.unshift(['host', `127.0.0.1:${machine.port}`]);
  if (cookies.length) headers.push(['cookie', jar.header(input.path)]);
  let response: LiveResponse;
  try {
    response = await send(
      machine,
      { method: input.method, path: input.path, headers, body: input.body },
      context.timeoutMs,
    );
  } catch (cause) {
    await machine.exitsWithin(1000);
    throw failure(machine, step, stepLabel, cause);
  }
  const identity = machine.identity();
  const cookieChanges = jar.store(response.setCookies, input.path, step, name);
  const facts = factsOf(response, {
    normalize: normalizer(identity),
    origins: [`http://127.0.0.1:${machine.port}`, `http://localhost:${machine.port}`, ...journey.origins],
    cookies: cookieChanges,
  });
  return {
    step,
    label: stepLabel,
    input: { ...input, headers },
    response,
    machine: name,
    restarted,
    identity,
    facts,
    cookiesSent: cookies.map(({ name: n, setAt, setOn }) => ({ name: n, setAt, setOn })),
    cookieChanges,
  };
}

function failure(machine: Machine, step: number, stepLabel: string, cause: unknown): CheckError {
  const exit = machine.exit;
  const output = machine.output.trimEnd().split('\n').slice(-15).join('\n');
  if (exit) {
    return new CheckError(
      'UNPINNED_ERR_CHECK_APP_EXITED',
      `${machine.name} exited during step ${step + 1} (${stepLabel}) with ${exit.signal ?? `exit code ${exit.code}`}. The app must keep serving for the whole journey.${output ? `\nIts output ended with:\n${output}` : ''}`,
      { cause },
    );
  }
  return new CheckError(
    'UNPINNED_ERR_CHECK_REQUEST_FAILED',
    `Step ${step + 1} (${stepLabel}) on ${machine.name} failed: ${(cause as Error).message}. The app accepted the connection but did not answer; a request that streams forever (server-sent events, long polling) cannot be a step.`,
    { cause },
  );
}
