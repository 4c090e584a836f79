/**
 * A journey written in code (`--script journey.mjs`): a module whose default
 * export is an async function that makes the requests, one step each, and reads
 * what it needs from live answers itself. The check runs it once per run and
 * routes each request to the replica the run's plan names.
 *
 * ```js
 * // journey.mjs
 * export default async function journey(app) {
 *   const page = await app.get('/login');
 *   await app.post('/login', { form: { user: 'ann', _csrf: page.field('_csrf') } });
 *   await app.get('/account');
 * }
 * ```
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CheckError } from './errors.js';
import { mediaType } from './facts.js';
import { scanHtml } from './html.js';
import type { Journey, ReplaySession, StepRecord } from './replay.js';
import { StopReplay } from './replay.js';

export interface StepOptions {
  headers?: Record<string, string>;
  /** Sent as application/x-www-form-urlencoded. */
  form?: Record<string, string> | [string, string][];
  /** Sent as application/json. */
  json?: unknown;
  /** A raw body (give its content-type in `headers`). */
  body?: string;
}

/** What each step of a script gets back. */
export interface StepResponse {
  status: number;
  ok: boolean;
  /** Which replica answered (`replica-2`). */
  replica: string;
  header(name: string): string | undefined;
  /** The redirect target, if any. */
  location: string | undefined;
  text(): string;
  json<T = unknown>(): T;
  /** Value of the `n`th form field named `name` in an HTML answer. */
  field(name: string, n?: number): string | undefined;
  /** Content of `<meta name="…">` in an HTML answer. */
  meta(name: string): string | undefined;
}

export interface StepApi {
  get(path: string, options?: StepOptions): Promise<StepResponse>;
  post(path: string, options?: StepOptions): Promise<StepResponse>;
  put(path: string, options?: StepOptions): Promise<StepResponse>;
  patch(path: string, options?: StepOptions): Promise<StepResponse>;
  delete(path: string, options?: StepOptions): Promise<StepResponse>;
  request(method: string, path: string, options?: StepOptions): Promise<StepResponse>;
  /** Current value of a cookie in the live jar. */
  cookie(name: string): string | undefined;
}

export type ScriptFunction = (app: StepApi) => Promise<void>;

function responseOf(record: StepRecord): StepResponse {
  const text = () => record.response.body.toString('utf8');
  let html: ReturnType<typeof scanHtml> | undefined;
  const page = () => {
    html ??= /html/.test(mediaType(record.response.headers)) ? scanHtml(text()) : scanHtml('');
    return html;
  };
  const header = (name: string) => record.response.headers.find(([n]) => n === name.toLowerCase())?.[1];
  return {
    status: record.response.status,
    ok: record.response.status >= 200 && record.response.status < 300,
    replica: record.machine,
    header,
    location: header('location'),
    text,
    json: <T>() => JSON.parse(text()) as T,
    field: (name, n = 0) => page().fields.filter((f) => f.name === name)[n]?.value,
    meta: (name) => page().meta.find((m) => m.name === name)?.content,
  };
}

function bodyOf(options: StepOptions): { type?: string; body: Buffer | null } {
  if (options.form !== undefined) {
    return {
      type: 'application/x-www-form-urlencoded',
      body: Buffer.from(new URLSearchParams(options.form).toString()),
    };
  }
  if (options.json !== undefined)
    return { type: 'application/json', body: Buffer.from(JSON.stringify(options.json)) };
  return { body: options.body === undefined ? null : Buffer.from(options.body) };
}

function api(session: ReplaySession): StepApi {
  const request = async (method: string, path: string, options: StepOptions = {}) => {
    if (!path.startsWith('/')) throw new TypeError(`a step's path starts with "/", got "${path}"`);
    const { type, body } = bodyOf(options);
    const headers: [string, string][] = Object.entries(options.headers ?? {});
    if (type && !headers.some(([n]) => n.toLowerCase() === 'content-type'))
      headers.push(['content-type', type]);
    return responseOf(await session.send({ method: method.toUpperCase(), path, headers, body }));
  };
  return {
    request,
    get: (path, options) => request('GET', path, options),
    post: (path, options) => request('POST', path, options),
    put: (path, options) => request('PUT', path, options),
    patch: (path, options) => request('PATCH', path, options),
    delete: (path, options) => request('DELETE', path, options),
    cookie: (name) => session.jar.value(name),
  };
}

/**
 * Loads a journey script; fails with a clear message before anything starts.
 *
 * @example
 * const journey = await scriptJourney('journey.mjs');
 */
export async function scriptJourney(file: string): Promise<Journey> {
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(resolve(file)).href)) as { default?: unknown };
  } catch (cause) {
    throw new CheckError(
      'UNPINNED_ERR_CHECK_SCRIPT_INVALID',
      `${file} could not be loaded as a JavaScript module (${(cause as Error).message}).`,
      { cause },
    );
  }
  const fn = mod.default;
  if (typeof fn !== 'function') {
    throw new CheckError(
      'UNPINNED_ERR_CHECK_SCRIPT_INVALID',
      `${file} must export a default async function that takes the step API: export default async function (app) { await app.get('/'); } (see docs/check.md).`,
    );
  }
  return {
    origins: [],
    async play(session) {
      try {
        await (fn as ScriptFunction)(api(session));
      } catch (error) {
        if (error instanceof StopReplay || error instanceof CheckError) throw error;
        throw new CheckError(
          'UNPINNED_ERR_CHECK_SCRIPT_INVALID',
          `${file} threw at step ${session.records.length + 1}: ${(error as Error).message ?? String(error)}`,
          { cause: error },
        );
      }
    },
  };
}
