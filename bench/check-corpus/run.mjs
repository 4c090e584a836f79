/**
 * `unpinned check` on apps it was never developed against: real Express, Fastify, Koa, Hono and
 * Socket.IO apps using the real libraries (express-session, passport, express-rate-limit,
 * csrf-csrf, multer, lru-cache, helmet, jsonwebtoken, @fastify/session, @fastify/rate-limit,
 * koa-session, …), with journeys recorded in Chromium, and the same journeys in the shapes
 * Chrome DevTools and Firefox save. Each case says beforehand what the right answer is:
 * `stateless`, or the culprit and the step where a replica first answers wrong.
 *
 *   npm run build && node bench/check-corpus/run.mjs [filter]
 *   CHECK_CLI=/path/to/other/dist/src/cli/index.js node bench/check-corpus/run.mjs
 *
 * installs each group's packages on first use (npm ci, from the committed lock files), runs the
 * cases one at a time and prints a line per case, then a JSON summary as its last line.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
// CHECK_CLI runs another build of the command on the same cases (an older release, say).
const cli = process.env.CHECK_CLI ?? join(here, '..', '..', 'dist', 'src', 'cli', 'index.js');
if (!existsSync(cli)) throw new Error(`${cli} is missing: build unpinned first (npm run build)`);
const filter = process.argv[2] ?? '';
/** `hars/app ../journeys/chrome.har STORE=redis`: where, which journey, and what the case sets. */
const name = (c) =>
  [c.dir, c.har ?? c.script, ...(c.args ?? []).filter((a, i) => i % 2 && a.includes('='))].join(' ');
const cases = JSON.parse(readFileSync(join(here, 'cases.json'), 'utf8')).filter((c) =>
  name(c).includes(filter),
);

for (const group of new Set(cases.map((c) => c.dir.split('/')[0]))) {
  if (existsSync(join(here, group, 'node_modules'))) continue;
  console.error(`installing ${group}'s packages (npm ci)…`);
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: join(here, group), stdio: 'inherit' });
}

function check(c, scratch) {
  const args = ['check', '--app', c.app, ...(c.har ? ['--har', c.har] : ['--script', c.script])];
  for (const a of c.args ?? []) args.push(a.replaceAll('{tmp}', scratch));
  args.push('--json', '-');
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], {
      cwd: join(here, c.dir),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const results = [];
for (const c of cases) {
  const scratch = mkdtempSync(join(tmpdir(), 'check-corpus-'));
  const t0 = performance.now();
  const out = await check(c, scratch);
  const seconds = (performance.now() - t0) / 1000;
  rmSync(scratch, { recursive: true, force: true });
  let got;
  try {
    const result = JSON.parse(out.stdout);
    got =
      result.verdict === 'stateless'
        ? 'stateless'
        : `${result.findings[0].culpritId}@${result.findings[0].step}`;
  } catch {
    got = `error (exit ${out.code}): ${out.stderr.trim().split('\n').pop()}`;
  }
  const ok = got === c.expect;
  results.push({
    case: `${c.dir} ${c.har ?? c.script}`,
    expect: c.expect,
    got,
    ok,
    seconds: Number(seconds.toFixed(1)),
  });
  console.log(
    `${ok ? 'ok  ' : 'FAIL'} ${name(c).padEnd(72)} expect ${c.expect.padEnd(22)} got ${got.padEnd(22)} ${seconds.toFixed(1)} s`,
  );
}
const failed = results.filter((r) => !r.ok);
const summary = {
  cases: results.length,
  passed: results.length - failed.length,
  failed: failed.length,
  falsePositives: failed.filter(
    (r) => r.expect === 'stateless' && r.got !== 'stateless' && !r.got.startsWith('error'),
  ).length,
  misses: failed.filter((r) => r.expect !== 'stateless' && r.got === 'stateless').length,
  errors: failed.filter((r) => r.got.startsWith('error')).length,
  seconds: Number(results.reduce((s, r) => s + r.seconds, 0).toFixed(1)),
};
console.log(JSON.stringify(summary));
process.exitCode = failed.length ? 1 : 0;
