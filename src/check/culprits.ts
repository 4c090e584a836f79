/**
 * From a divergent step to its likely cause. Two probes answer the questions a
 * response alone cannot. First: does the journey on one replica, restarted just
 * before the step, answer wrong too? Then the state was in memory, and the
 * request and the difference say which kind. If it answers right, the state
 * survived a restart (a file on that replica's disk) or was never needed on one
 * replica (a stale copy another replica held); the second probe restarts only
 * the replica that answered wrong: right now means it held a stale copy.
 */

import { parseCookieHeader } from './har.js';
import type { Difference } from './noise.js';
import type { StepRecord } from './replay.js';
import { decodeSafe, slotsOf } from './slots.js';

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
      'sessions kept in process memory (the default MemoryStore of express-session or @fastify/session, another in-memory session store, or a Map of login tokens)',
    fix: 'Keep sessions in a store every replica shares: unpinned/redis (docs/getting-started.md), or connect-redis for express-session and @fastify/session (docs/migrating.md). Every replica must also sign cookies with the same secret; login tokens go to Redis too, or are signed (JWT) with a key every replica has.',
  },
  'rate-limit-memory': {
    culprit:
      "rate-limit counters kept in process memory (express-rate-limit's default MemoryStore, @fastify/rate-limit without redis): each replica counts alone, so N replicas allow N times the limit",
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
      'data kept in process memory (a Map, an array or an object at module scope, or in a singleton made at startup such as a NestJS service) that the other replicas do not have',
    fix: 'Keep it in the shared store (Redis, your database), not in a module-level variable or a singleton.',
  },
  'local-disk': {
    culprit:
      "files on the replica's local disk (uploads, or a JSON or SQLite file under the working directory, TMPDIR or HOME): the replica that wrote them keeps them across a restart, the others never had them",
    fix: 'Put files in storage every replica shares (object storage such as S3, or one mounted volume) and data in a shared database; an SQLite file serves one host only.',
  },
  'id-sequence': {
    culprit:
      'an id sequence in process memory (a counter at module scope or in a singleton): two replicas hand out the same ids',
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

/**
 * The earlier step that most likely wrote what step `k` could not read: the step that set a
 * cookie the request carried or made a value it sent; for a rate limit, the last hit on the same
 * route elsewhere; else the last write elsewhere. A value copied from an earlier answer that is
 * the same in every run (a route name in a page's script, a prefilled e-mail) links nothing.
 */
export function writerOf(records: readonly StepRecord[], k: number, culprit?: CulpritId): StepRecord | null {
  const reader = records[k]!;
  const elsewhere = (j: number) =>
    records[j]!.machine !== reader.machine ||
    records.slice(j + 1, k + 1).some((r) => r.restarted && r.machine === reader.machine);
  const linked = new Set([
    ...reader.cookiesSent.map((c) => c.setAt),
    ...(reader.input.correlated ?? []).filter((c) => c.changed).map((c) => c.from),
  ]);
  const before = records.slice(0, k).map((_, j) => k - 1 - j);
  const write = (j: number) => elsewhere(j) && !safe(records[j]!.input.method);
  const pick =
    (culprit === 'rate-limit-memory'
      ? before.find((j) => elsewhere(j) && records[j]!.label === reader.label)
      : undefined) ??
    (culprit === 'module-cache' ? before.find(write) : undefined) ??
    before.find((j) => elsewhere(j) && linked.has(j)) ??
    before.find(write) ??
    before.find(elsewhere);
  return pick === undefined ? null : records[pick]!;
}

/** The difference is that cookie being set or cleared, nothing of the answer itself. */
const onlyCookie = (d: Difference, name: string) => d.key === `cookie.${name}` || d.key === `cookie.${name}=`;

/** The value of cookie `name` in the Cookie header a request sent. */
function sentValue(record: StepRecord, name: string): string | undefined {
  const header = record.input.headers.find(([n]) => n.toLowerCase() === 'cookie')?.[1] ?? '';
  return parseCookieHeader(header).find(([n]) => n === name)?.[1];
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
  /** A more precise culprit and fix than the id's own, when the evidence allows one. */
  culprit?: string;
  fix?: string;
}

/**
 * Cookies that carry the whole session, signed, in the shapes the common frameworks write:
 * a JWT or itsdangerous token (Flask: `eyJ….….…`, compressed `.eJw….….…`), Mojolicious
 * (`<base64>--<HMAC hex>`), Rails and Express signed cookies (`<base64>--<digest>`).
 */
const signedShapes = [
  /^\.?eyJ[\w-]+\.[\w-]+\.[\w-]+$/,
  /^\.eJ[\w-]+\.[\w-]+\.[\w-]+$/,
  /^[A-Za-z0-9+/=_%-]{8,}--[0-9a-f]{40,}$/,
  /^[A-Za-z0-9+/=_%-]{16,}--[A-Za-z0-9+/=_%-]{20,}$/,
];

/** A cookie the request carried holds a signed session: the key that checks it is the question. */
function signedToken(reader: StepRecord, name: string): { culprit: string; fix: string; why: string } | null {
  const value = sentValue(reader, name) ?? '';
  if (!signedShapes.some((shape) => shape.test(value))) return null;
  return {
    why: `cookie ${name} holds a signed session (${value.startsWith('eyJ') ? 'a JWT' : 'signed by the app'}): the replica that rejected it checks it with another key`,
    culprit:
      "a signing key made by each process at startup (a random secret: crypto.randomBytes, Python's os.urandom for Flask's secret_key, Mojolicious' secrets, a JWT key): a cookie one replica signed, the others reject",
    fix: 'Read the signing key from the environment or a secret store, the same on every replica (SECRET_KEY, JWT_SECRET, the session secret); rotate it with a list of keys that every replica accepts.',
  };
}

/**
 * The session id in a cookie the replica did not accept is a key of the shared store: the
 * session was there for every replica, and the cookie that names it was refused, because each
 * process signs cookies with a secret it made for itself (express-session's `s:<id>.<signature>`).
 */
function sharedSession(
  reader: StepRecord,
  name: string,
  shared: readonly string[] | null,
): { culprit: string; fix: string; why: string } | null {
  if (!shared?.length) return null;
  const ids = decodeSafe(sentValue(reader, name) ?? '')
    .replace(/^s:/, '')
    .split(/[.:|]/)
    .filter((part) => part.length >= 16);
  const key = shared.find((k) => ids.some((id) => k.includes(id)));
  if (!key) return null;
  return {
    why: `the shared store holds this session (key ${key.length > 60 ? `${key.slice(0, 57)}…` : key}), yet the replica did not accept cookie ${name}: its signature`,
    culprit:
      'a cookie secret made by each process at startup (crypto.randomBytes): the session is in the shared store, but a cookie one replica signed, the others reject',
    fix: "Give every replica the same secret from the environment (express-session's and @fastify/session's secret, cookie-parser's); rotate it with a list of secrets that every replica accepts.",
  };
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
  /** Keys the rotation left in the shared store, when known. */
  shared?: readonly string[] | null;
  /** The rotation's steps before this one, all answered alike. */
  earlier?: readonly StepRecord[];
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
      'on one replica restarted just before this step the answer was right: nothing was lost',
      `${reader.machine}, restarted just before this step, answered right: it had kept an old copy`,
    );
  } else if (probes.oneReplicaRestartedMatches === true) {
    evidence.push(
      'on one replica restarted just before this step the answer was right: the state survives a restart',
    );
  } else if (probes.oneReplicaRestartedMatches === false) {
    evidence.push(
      'on one replica restarted just before this step the answer was wrong too: the state was in memory',
    );
  }
  const done = (id: CulpritId): Diagnosis => ({ id, evidence });
  // An earlier step took the same cookie to another replica and was answered alike: every
  // replica reads it, so neither its key nor its secret is the process's own.
  const readElsewhere = (name: string) =>
    (input.earlier ?? []).some(
      (r) =>
        r.machine !== reader.cookiesSent.find((c) => c.name === name)?.setOn &&
        sentValue(r, name) === sentValue(reader, name),
    );
  const sessions = (cookie: string): Diagnosis => {
    if (readElsewhere(cookie)) return done('session-memory');
    const token = signedToken(reader, cookie) ?? sharedSession(reader, cookie, input.shared ?? null);
    if (!token) return done('session-memory');
    evidence.push(token.why);
    return { id: 'session-memory', evidence, culprit: token.culprit, fix: token.fix };
  };

  if (/\/socket\.io\//.test(path) || /[?&]EIO=/.test(path)) return done('socket-io');
  if (probes.readerRestartedMatches) return done('module-cache');
  if (probes.oneReplicaRestartedMatches) {
    const session = sentCookies.find((c) => sessionName.test(c.name));
    if (!session) return done('local-disk');
    // session-file-store, connect-sqlite3 under the working directory: the session survives a
    // restart of its replica and is on no other.
    return {
      id: 'local-disk',
      evidence,
      culprit: `sessions kept in files on the replica's local disk (session-file-store, an SQLite session store under the working directory): cookie ${session.name} names a session only the replica that wrote it has`,
      fix: 'Keep sessions in a store every replica shares: connect-redis (or unpinned/redis, docs/migrating.md) instead of files on local disk.',
    };
  }
  // Both answers a 429 with the same count left is a limit every replica agrees on; what
  // differs then is elsewhere (a retry time), not the counters.
  const limited = (reader.response.status === 429) !== (reference.response.status === 429);
  if (difference.key === 'header.ratelimit-remaining' || limited) return done('rate-limit-memory');
  // The app issued a new value for a cookie the request carried: it did not know the one it got.
  // Some session libraries (@fastify/session) set their cookie on every answer, with the value
  // the request carried when they know the session: only a new value counts.
  const renewed = (record: StepRecord, name: string) =>
    record.cookieChanges.some(
      (c) =>
        c.name === name &&
        c.action === 'set' &&
        sentValue(record, name) !== undefined &&
        c.value !== sentValue(record, name),
    );
  const fresh = reader.cookiesSent.find(
    (s) => s.setAt >= 0 && renewed(reader, s.name) && !renewed(reference, s.name),
  );
  if (fresh && !sessionName.test(fresh.name) && onlyCookie(difference, fresh.name)) {
    // A cookie that is no session (a boot id, a sticky hint) set anew with a value of the
    // replica's own: state of the process that leaked to the client, not a lost session.
    evidence.push(
      `${reader.machine} set cookie ${fresh.name} anew, to a value of its own: the cookie carries something of the process that set it`,
    );
    return done('module-state');
  }
  if (fresh) {
    evidence.push(
      `${reader.machine} answered with a new ${fresh.name} cookie: it did not know the session the request carried`,
    );
    return sessions(fresh.name);
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
  // A signed session another replica wrote, whatever the cookie's name (Mojolicious calls it
  // `mojolicious`): refused here, the keys differ. With a CSRF failure it is named with the
  // CSRF secret below.
  const signed = sentCookies.find((c) => signedToken(reader, c.name) && !readElsewhere(c.name));
  const csrfSent =
    correlated.some((c) => csrfName.test(c.slot)) || sentNames(reader).some((n) => csrfName.test(n));
  if (csrfSent && reader.response.status >= 400 && reference.response.status < 400) {
    if (!signed) return done('csrf-memory');
    // The token sits in a signed session (Flask-WTF, csurf on cookie sessions): a CSRF secret
    // made per process and a session key made per process look alike from outside.
    evidence.push(
      `cookie ${signed.name} holds a signed session, set by another replica: the CSRF token it holds, or the key that signs it, is per process`,
    );
    return {
      id: 'csrf-memory',
      evidence,
      culprit:
        "a CSRF secret, or the key that signs the session holding the CSRF token, made by each process at startup (Flask's secret_key or WTF_CSRF_SECRET_KEY from os.urandom, a random cookie secret)",
      fix: 'Read both the CSRF secret and the session signing key from the environment, the same on every replica (Flask: SECRET_KEY and WTF_CSRF_SECRET_KEY).',
    };
  }
  if (signed) return sessions(signed.name);
  const session = sentCookies.find((c) => sessionName.test(c.name));
  if (session) return sessions(session.name);
  if (idDifference(difference)) return done('id-sequence');
  return done('module-state');
}
