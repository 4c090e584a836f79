/**
 * What one request loaded, and what it changed since. express-session hands a
 * store the whole session on every save; diffing it against the store's
 * current state would write back the request's stale copy of keys it never
 * touched and delete keys other requests added meanwhile. Diffing against the
 * request's own snapshot writes only what this request did.
 */
import { checkKey } from '../../session/values.js';

/** The session as one request loaded it. */
export interface Loaded {
  /** Each top-level key's JSON text at load time (a deep copy, immune to later mutation). */
  json: Map<string, string>;
  /** `userIdOf` of the loaded data, to bind or unbind only when this request changed it. */
  userId: unknown;
  absoluteExpiresAt: number;
}

export interface Changes {
  set: [string, string][];
  delete: string[];
}

/** Each enumerable top-level key to its JSON text; keys whose value has no JSON form are absent. */
export function jsonOf(session: object): Map<string, string> {
  const json = new Map<string, string>();
  for (const [key, value] of Object.entries(session)) {
    checkKey(key);
    const text = value === undefined ? undefined : JSON.stringify(value);
    if (text !== undefined) json.set(key, text);
  }
  return json;
}

/** Keys this request set or changed, and keys it removed; nothing about keys it left alone. */
export function changes(loaded: Loaded, now: Map<string, string>): Changes {
  const set: [string, string][] = [];
  for (const [key, text] of now) if (loaded.json.get(key) !== text) set.push([key, text]);
  const deleted = [...loaded.json.keys()].filter((key) => !now.has(key));
  return { set, delete: deleted };
}

/** The user binding to write: undefined leaves it alone, null unbinds. */
export function userChange(before: unknown, after: unknown): string | null | undefined {
  const norm = (id: unknown) => (id === undefined || id === null ? null : String(id));
  return norm(before) === norm(after) ? undefined : norm(after);
}
