/** JSON text in and out of the store, with the checks that keep bad values harmless. */
import { UnpinnedError } from './errors.js';

const MAX_KEY_LENGTH = 256;

/** Session keys are plain strings; `$` is reserved for the store's metadata fields. */
export function checkKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH || key[0] === '$') {
    throw new UnpinnedError(
      'UNPINNED_ERR_INVALID_KEY',
      `Invalid session key ${describe(key)}: use a non-empty string of at most ${MAX_KEY_LENGTH} characters that does not start with "$".`,
    );
  }
}

export function toJson(key: string, value: unknown): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (cause) {
    throw notSerializable(key, cause);
  }
  if (json === undefined) throw notSerializable(key, undefined);
  return json;
}

/** Parses stored JSON; `undefined` when the store holds something that is not JSON. */
export function fromJson(json: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(json) };
  } catch {
    return { ok: false };
  }
}

export function byteSize(key: string, json: string): number {
  return Buffer.byteLength(key) + Buffer.byteLength(json);
}

function notSerializable(key: string, cause: unknown): UnpinnedError {
  return new UnpinnedError(
    'UNPINNED_ERR_NOT_SERIALIZABLE',
    `The value for session key "${key}" cannot be stored as JSON. Store plain JSON values (no undefined, functions, BigInt or cycles).`,
    { cause },
  );
}

function describe(key: unknown): string {
  return typeof key === 'string'
    ? JSON.stringify(key.length > 40 ? `${key.slice(0, 40)}…` : key)
    : typeof key;
}
