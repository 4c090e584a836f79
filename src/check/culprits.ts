/**
 * From a divergent step to its likely cause. Two probes answer the questions a
 * response alone cannot. First: does the journey on one replica, restarted just
 * before the step, answer wrong too? Then the state was in memory, and the
 * request and the difference say which kind. If it answers right, the state
 * survived a restart (a file on that replica's disk) or was never needed on one
 * replica (a stale copy another replica held); the second probe restarts only
 * the replica that answered wrong: right now means it held a stale copy.
 */
import type { Difference } from './noise.js';
import type { StepRecord } from './replay.js';
import { slotsOf } from './slots.js';

export type CulpritId =
  | 'session-memory'
  | 'rate-limit-memory'
  | 'csrf-memory'
  | 'oauth-state-memory'
  | 'module-cache'
  | 'module-state'
  | 'local-disk'
  | 'id-sequence'
  | 'socket-io';

/**
 * What the check can name, and how to fix it: the `culprit` and `fix` of a finding.
 *
 * @example
 * culprits['rate-limit-memory'].fix; // "Count in a shared store: rate-limit-redis's RedisStore …"
 */
export const culprits: Record<CulpritId, { culprit: string; fix: string }> = {
  'session-memory': {
    culprit:
      "sessions kept in process memory (express-session's default MemoryStore, another in-memory session store, or a Map of login tokens)",
    fix: 'Keep sessions in a store every replica shares: unpinned/redis (docs/getting-started.md), or connect-redis for express-session (docs/migrating.md). Every replica must also sign cookies with the same secret; login tokens go to Redis too, or are signed (JWT) with a key every replica has.',
  },
  'rate-limit-memory': {
    culprit:
      "rate-limit counters kept in process memory (express-rate-limit's default MemoryStore): each replica counts alone, so N replicas allow N times the limit",
    fix: "Count in a shared store: rate-limit-redis's RedisStore for express-rate-limit, or @fastify/rate-limit with its redis option.",
  },
  'csrf-memory': {
    culprit:
      'CSRF tokens, or the secret they are checked with, kept in process memory (a token Map, a secret made at startup)',
    fix: 'Keep the CSRF secret in the shared session, or sign double-submit tokens with a secret every replica reads from its environment (csrf-csrf getSecret).',
  },
  'oauth-state-memory': {
    culprit:
      'OAuth / OpenID Connect state (and its PKCE verifier or nonce) kept in process memory between the redirect to the provider and the callback',
    fix: 'Keep the state in the shared session, or in a short-lived signed HttpOnly cookie, so that any replica can check the callback.',
  },
  'module-cache': {
    culprit:
      'a module-level cache (a Map, an object or an LRU at module scope) that kept an old copy after another replica changed the data',
    fix: 'Cache in Redis, or make every replica drop the entry when the data changes (Redis pub/sub, a version key checked per request); a local cache needs a TTL short enough that stale answers do not matter.',
  },
  'module-state': {
    culprit:
      'data kept in process memory (a Map, an array or an object at module scope) that the other replicas do not have',
    fix: 'Keep it in the shared store (Redis, your database), not in a module-level variable.',
  },
  'local-disk': {
    culprit:
      "files on the replica's local disk (uploads, or a JSON or SQLite file under the working directory, TMPDIR or HOME): the replica that wrote them keeps them across a restart, the others never had them",
    fix: 'Put files in storage every replica shares (object storage such as S3, or one mounted volume) and data in a shared database; an SQLite file serves one host only.',
  },
  'id-sequence': {
    culprit:
      'an id sequence in process memory (a counter at module scope): two replicas hand out the same ids',
    fix: 'Let the shared database or Redis assign ids (a sequence, auto-increment, INCR), or use random ids (crypto.randomUUID()).',
  },
  'socket-io': {
    culprit:
      'Socket.IO without an adapter: its long-polling sessions and rooms live in one process, so a request that reaches another replica gets "Session ID unknown"',
    fix: "Use the WebSocket transport only (transports: ['websocket'], which needs no stickiness) with @socket.io/redis-adapter for broadcasts, or unpinned/realtime.",
  },
};

export interface Probes {
  /** The reading replica, restarted just before the step, answered right. */
  readerRestartedMatches: boolean | null;
  /** The journey on one replica, restarted just before the step, answered right. */
  oneReplicaRestartedMatches: boolean | null;
}

const safe = (method: string) => method === 'GET' || method === 'HEAD' || method === 'OPTIONS';
const sessionName = /sess|sid|auth|token|login|jwt|remember|user|identity/i;
const csrfName = /csrf|xsrf|authenticity|_token|nonce|anti-?forgery/i;

/** Names of the fields and custom headers a request sent (a script's requests carry no correlation notes). */
function sentNames(record: StepRecord): string[] {
  const { input } = record;
  const [path = '', query = ''] = input.path.split('?');
  const type = input.headers.find(([n]) => n.toLowerCase() === 'content-type')?.[1] ?? '';
  const body = input.body ? { mimeType: type, text: input.body.toString('utf8') } : null;
  return slotsOf({ path, query: query ? `?${query}` : '', headers: input.headers, body }).map((s) => {
    const where = s.where;
    return where.in === 'json'
      ? String(where.path[where.path.length - 1])
      : where.in === 'path'
        ? ''
        : where.name;
  });
}

/** The earlier step that most likely wrote what step `k` could not read. */
export function writerOf(records: readonly StepRecord[], k: number): StepRecord | null {
  const reader = records[k]!;
  const elsewhere = (j: number) =>
    records[j]!.machine !== reader.machine ||
    records.slice(j + 1, k + 1).some((r) => r.restarted && r.machine === reader.machine);
  const linked = new Set([
    ...reader.cookiesSent.map((c) => c.setAt),
    ...(reader.input.correlated ?? []).map((c) => c.from),
  ]);
  const before = records.slice(0, k).map((_, j) => k - 1 - j);
  const pick =
    before.find((j) => elsewhere(j) && linked.has(j)) ??
    before.find((j) => elsewhere(j) && !safe(records[j]!.input.method)) ??
    before.find(elsewhere);
  return pick === undefined ? null : records[pick]!;
}

/** Two numbers where an id sits: a JSON `id`/`…Id`/`…_id`, or a number in a redirect path. */
function idDifference(d: Difference): boolean {
  const strip = (v: string | null) => (v ?? '').replace(/^[ns]:/, '');
  const [e, g] = [strip(d.expected), strip(d.got)];
  const num = (s: string | undefined) => s !== undefined && /^\d+$/.test(s);
  if (/(?:^|[.[])(?:id|\w*Id|\w*_id)\]?$/.test(d.key)) return num(e) && num(g);
  if (d.key !== 'location.path' || e === g) return false;
  const [a, b] = [e.split('/'), g.split('/')];
  return a.length === b.length && a.every((s, i) => s === b[i] || (num(s) && num(b[i])));
}

export interface Diagnosis {
  id: CulpritId;
  evidence: string[];
}

/**
 * @example
 * diagnose({ reader, reference, difference, records, probes }).id; // 'session-memory'
 */
export function diagnose(input: {
  reader: StepRecord;
  reference: StepRecord;
  difference: Difference;
  probes: Probes;
}): Diagnosis {
  const { reader, reference, difference, probes } = input;
  const evidence: string[] = [];
  const path = reader.input.path;
  const sentCookies = reader.cookiesSent.filter((c) => c.setAt >= 0 && c.setOn !== reader.machine);
  for (const c of sentCookies)
    evidence.push(`the request carried cookie ${c.name}, set by ${c.setOn} at step ${c.setAt + 1}`);
  for (const c of (reader.input.correlated ?? []).filter((c) => c.changed || !c.found)) {
    evidence.push(
      `it sent ${c.slot} taken from the answer to step ${c.from + 1}${c.found ? '' : ' (not found there: the recorded value was sent)'}`,
    );
  }
  if (probes.readerRestartedMatches) {
    evidence.push(
      `${reader.machine}, restarted just before this step, answered right: it had kept an old copy`,
    );
  }
  if (probes.oneReplicaRestartedMatches === true) {
    evidence.push(
      'on one replica restarted just before this step the answer was right: the state survives a restart',
    );
  } else if (probes.oneReplicaRestartedMatches === false) {
    evidence.push(
      'on one replica restarted just before this step the answer was wrong too: the state was in memory',
    );
  }
  const done = (id: CulpritId) => ({ id, evidence });

  if (/\/socket\.io\//.test(path) || /[?&]EIO=/.test(path)) return done('socket-io');
  if (probes.readerRestartedMatches) return done('module-cache');
  if (probes.oneReplicaRestartedMatches) return done('local-disk');
  if (
    difference.key === 'header.ratelimit-remaining' ||
    reader.response.status === 429 ||
    reference.response.status === 429
  ) {
    return done('rate-limit-memory');
  }
  // The app issued a new value for a cookie the request carried: it did not know the one it got.
  const reissued = reader.cookieChanges.filter(
    (c) => c.action === 'set' && reader.cookiesSent.some((s) => s.name === c.name && s.setAt >= 0),
  );
  const reissuedInReference = new Set(reference.cookieChanges.map((c) => c.name));
  const fresh = reissued.find((c) => !reissuedInReference.has(c.name));
  if (fresh) {
    evidence.push(
      `${reader.machine} answered with a new ${fresh.name} cookie: it did not know the session the request carried`,
    );
    return done('session-memory');
  }
  const correlated = reader.input.correlated ?? [];
  if (
    correlated.some((c) => c.slot === 'query state') ||
    (/callback|oauth|oidc|openid/i.test(path) && /[?&](state|code)=/.test(path))
  ) {
    return done('oauth-state-memory');
  }
  const bearer = reader.input.headers.find(([n]) => n.toLowerCase() === 'authorization');
  if (bearer && reader.response.status === 401 && reference.response.status < 400) {
    evidence.push(
      `${reader.machine} answered 401 to the Authorization the request carried: it did not know that token`,
    );
    return done('session-memory');
  }
  const csrfSent =
    correlated.some((c) => csrfName.test(c.slot)) || sentNames(reader).some((n) => csrfName.test(n));
  if (csrfSent && reader.response.status >= 400 && reference.response.status < 400)
    return done('csrf-memory');
  if (sentCookies.some((c) => sessionName.test(c.name))) return done('session-memory');
  if (idDifference(difference)) return done('id-sequence');
  return done('module-state');
}
