/**
 * One logger shape for every part (DESIGN §14): pino's. A part takes a `logger` option with
 * pino's `info/warn/error(obj, msg)` methods, so an app passes its own pino logger (or a child
 * of it) and gets unpinned's lines in its stream. Without one, the CLI writes the same lines
 * itself, as JSON with pino's fields (`level` as pino's numbers, `time` in epoch ms, `pid`,
 * `hostname`, `msg`), or as short human lines.
 *
 * Fields are facts about servers, stores and operations; never a token, cookie or session data.
 */
import { hostname } from 'node:os';

export type LogFields = Record<string, unknown>;

/** The subset of pino's API that unpinned calls. */
export interface Logger {
  info(fields: LogFields, msg: string): void;
  warn(fields: LogFields, msg: string): void;
  error(fields: LogFields, msg: string): void;
}

/** pino's numeric levels (https://getpino.io/#/docs/api?id=levels). */
const levels = { info: 30, warn: 40, error: 50 } as const;

/** Where log lines go when nobody asked: nowhere. */
export const silentLogger: Logger = { info() {}, warn() {}, error() {} };

export type LogFormat = 'json' | 'pretty';

/**
 * A logger that writes one line per call: pino's JSON, or `msg key=value ...` for people.
 *
 * @example
 * const logger = lineLogger('json', (line) => process.stdout.write(line));
 * logger.warn({ server: 'app-2' }, 'server ejected');
 * // {"level":40,"time":1733312345678,"pid":4242,"hostname":"box","server":"app-2","msg":"server ejected"}
 */
export function lineLogger(format: LogFormat, write: (line: string) => void): Logger {
  // pino pre-serialises its bindings once; so does this.
  const head = `"pid":${process.pid},"hostname":${JSON.stringify(hostname())}`;
  const line = (level: keyof typeof levels) => (fields: LogFields, msg: string) => {
    if (format === 'pretty') {
      const extra = Object.entries(fields)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ');
      return write(`${level === 'info' ? '' : `${level}: `}${msg}${extra ? `  ${extra}` : ''}\n`);
    }
    const body = JSON.stringify({ ...fields, msg });
    write(
      `{"level":${levels[level]},"time":${Date.now()},${head}${body.length > 2 ? `,${body.slice(1)}` : '}'}\n`,
    );
  };
  return { info: line('info'), warn: line('warn'), error: line('error') };
}

/**
 * A logger that adds `bindings` to every line, as pino's `child()` does (the lab tags each run's
 * supervisor lines with its scenario and architecture).
 *
 * @example
 * const log = childLogger(logger, { scenario: 'server-crash', architecture: 'sticky' });
 * log.info({ server: 'app-1' }, 'app-1 up');
 */
export function childLogger(logger: Logger, bindings: LogFields): Logger {
  const bound = (level: keyof Logger) => (fields: LogFields, msg: string) =>
    logger[level]({ ...bindings, ...fields }, msg);
  return { info: bound('info'), warn: bound('warn'), error: bound('error') };
}

/** The `--log-format` value (`fallback` when the flag is absent). */
export function logFormat(flag: string | undefined, fallback: LogFormat = 'pretty'): LogFormat {
  if (flag === undefined) return fallback;
  if (flag === 'json' || flag === 'pretty') return flag;
  throw Object.assign(new Error(`--log-format must be json or pretty, got ${flag}.`), {
    code: 'UNPINNED_ERR_INVALID_OPTION',
  });
}
