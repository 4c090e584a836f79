/**
 * What happens to one express-session session under concurrent requests, for
 * each way off sticky sessions: express-session's MemoryStore (one per
 * process: behind a sticky balancer, and without one), connect-redis, and
 * unpinned's drop-in store, each app unchanged but for its store line
 * (test/fixtures/express-session-app.mjs). Two scenarios, several rounds each:
 * KEYS requests of one session, each setting its own key (how many keys
 * survive), and a logout while SLOW requests that loaded the session are in
 * flight (is it undone). These are counts, not timings. With the requests held
 * by a gate in the app until all have loaded the session, the figures do not
 * depend on the machine; sent at once but not held, they overlap as they
 * happen to, and the figures vary with the machine and its load.
 *
 *   npm run bench:express-session          BENCH_ROUNDS=5 KEYS=200 SLOW=20 by default
 *
 * Writes bench/results/express-session.json and the table in docs/migrating.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RedisServer } from '../src/system/redis-server.js';
import { runBenchmark } from './children.js';
import { writeDocSection } from './doc-section.js';
import { disjointKeys, logoutInFlight, retried, type StoreKind, startApps } from './express-session-apps.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const KEYS = Number(process.env.KEYS ?? 200);
const SLOW = Number(process.env.SLOW ?? 20);
const here = fileURLToPath(new URL('.', import.meta.url));
const root = join(here, '..', '..');
const fixture = join(root, 'test', 'fixtures', 'express-session-app.mjs');

const VARIANTS: { name: string; kind: StoreKind; servers: number }[] = [
  { name: 'MemoryStore, sticky (one server per user)', kind: 'memory', servers: 1 },
  { name: 'MemoryStore, round-robin over 3 (each server its own sessions)', kind: 'memory', servers: 3 },
  { name: 'connect-redis, 3 servers', kind: 'connect-redis', servers: 3 },
  { name: 'unpinned drop-in store, 3 servers', kind: 'unpinned', servers: 3 },
];

interface Result {
  variant: string;
  /** Keys of KEYS that survived, per round, with all requests held in flight together. */
  keysKept: number[];
  /** The same, the requests sent at once but not held: they overlap as they happen to. */
  keysKeptUnheld: number[];
  /** Rounds in which the logout was undone by the slow requests. */
  logoutsUndone: number;
}

function table(results: Result[]): string {
  const lines = [
    `| store | keys kept of ${KEYS}, all in flight together | keys kept of ${KEYS}, sent at once | logout undone by ${SLOW} slow requests |`,
    '| --- | --- | --- | --- |',
  ];
  for (const r of results) {
    const kept = (counts: number[]) => {
      const [low, high] = [Math.min(...counts), Math.max(...counts)];
      return low === high ? String(low) : `${low}–${high}`;
    };
    lines.push(
      `| ${r.variant} | ${kept(r.keysKept)} | ${kept(r.keysKeptUnheld)} | ${r.logoutsUndone} of ${ROUNDS} rounds |`,
    );
  }
  return lines.join('\n');
}

runBenchmark(async () => {
  const redis = await RedisServer.start();
  const results: Result[] = [];
  try {
    for (const variant of VARIANTS) {
      const apps = await startApps(fixture, variant.kind, redis.url, variant.servers);
      const result: Result = { variant: variant.name, keysKept: [], keysKeptUnheld: [], logoutsUndone: 0 };
      try {
        for (let round = 0; round < ROUNDS; round++) {
          result.keysKept.push(await disjointKeys(apps.urls, KEYS));
          result.keysKeptUnheld.push(await disjointKeys(apps.urls, KEYS, false));
          if ((await logoutInFlight(apps.urls, SLOW)).undone) result.logoutsUndone++;
        }
      } finally {
        await apps.stop();
      }
      process.stderr.write(
        `${variant.name}: kept ${result.keysKept.join(', ')}; undone ${result.logoutsUndone}\n`,
      );
      results.push(result);
    }
  } finally {
    await redis.close();
  }
  const output = {
    rounds: ROUNDS,
    keys: KEYS,
    slow: SLOW,
    results,
    /** Requests answered 503 (a store deadline missed on a loaded machine) and sent again. */
    retried503: retried.count,
    date: new Date().toISOString(),
  };
  const resultsDir = join(root, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, 'express-session.json'), `${JSON.stringify(output, null, 2)}\n`);
  const command = 'npm run bench:express-session';
  writeDocSection(
    root,
    'express-session',
    `<!-- express-session:start -->\n${table(results)}\n\nMeasured with \`${command}\` (${ROUNDS} rounds; ${output.retried503} requests answered 503 and were retried; ${output.date.slice(0, 10)}).\n<!-- express-session:end -->`,
    'migrating.md',
  );
  console.log(table(results));
});
