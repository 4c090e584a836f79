/**
 * `unpinned check` as users and their CI run it: the built binary, its exit
 * codes (0 stateless, 1 stateful, 2 usage or setup error), the JSON it
 * promises, progress on stderr, HAR files of every run, journeys in code, and
 * a clear message for each kind of bad input.
 */
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readHar } from '../../src/check/har.js';
import { commandLine, processTree, tagged, waitGone } from '../helpers/processes.js';
import { describeRedis } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/wait.js';

const cli = join(import.meta.dirname, '..', '..', 'dist', 'src', 'cli', 'index.js');
const fixtures = join(import.meta.dirname, '..', 'fixtures', 'check');
const scratch = mkdtempSync(join(tmpdir(), 'check-cli-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

function unpinned(...args: string[]): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, 'check', ...args],
      { cwd: fixtures, timeout: 120_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? Number((error as { code?: number }).code ?? -1) : 0, stdout, stderr });
      },
    );
  });
}

const har = (name: string) => join(fixtures, 'hars', `${name}.har`);

describeRedis('unpinned check (the command)', () => {
  describe.concurrent('verdicts', () => {
    it('exits 1 on state found, writes the promised JSON and a HAR per run, reports on stdout and progress on stderr', async () => {
      const json = join(scratch, 'out.json');
      const harOut = join(scratch, 'hars');
      const out = await unpinned(
        '--app',
        'node apps/session-memory.mjs',
        '--har',
        har('session-memory'),
        '--replicas',
        '2',
        '--json',
        json,
        '--har-out',
        harOut,
      );
      expect(out.code).toBe(1);
      expect(out.stdout).toMatch(/^✗ stateful/);
      expect(out.stdout).toMatch(
        /culprit +sessions kept in process memory \(the default MemoryStore of express-session/,
      );
      expect(out.stderr).toMatch(/unpinned check: single-replica run 1 of 2/);
      const result = JSON.parse(readFileSync(json, 'utf8'));
      expect(Object.keys(result).slice(0, 4)).toEqual(['verdict', 'replicas', 'steps', 'findings']);
      expect(result).toMatchObject({ verdict: 'stateful', replicas: 2 });
      expect(Object.keys(result.findings[0])).toEqual(
        expect.arrayContaining([
          'step',
          'request',
          'kind',
          'expected',
          'got',
          'wroteOn',
          'readOn',
          'culprit',
          'fix',
        ]),
      );
      // Two replicas: step 3 lands on replica-1, restarted just before it; the login was on replica-2.
      expect(result.findings[0]).toMatchObject({
        step: 3,
        request: 'GET /account',
        kind: 'status',
        expected: 200,
        got: 302,
        wroteOn: 'replica-2',
        readOn: 'replica-1',
        restarted: true,
        culpritId: 'session-memory',
      });
      const rotation = readHar(join(harOut, 'rotation.har'));
      expect(rotation.exchanges.map((e) => e.response.status)).toEqual([200, 303, 302, 200]);
      expect(readHar(join(harOut, 'baseline-1.har')).exchanges).toHaveLength(4);
    });

    it('runs --app as a shell would: an assignment in front, two commands with &&', async () => {
      // Each shape fails to start under `exec <command>`: exec takes the assignment for the
      // program's name, and replaces the shell with `true`, so the app never runs.
      const out = await unpinned(
        '--app',
        'true && SESSION_STORE=memory node apps/session-memory.mjs',
        '--har',
        har('session-memory'),
        '--replicas',
        '2',
        '--json',
        '-',
      );
      expect(out.stderr).not.toMatch(/UNPINNED_ERR_CHECK/);
      expect(out.code).toBe(1);
      expect(JSON.parse(out.stdout).findings[0]).toMatchObject({ step: 3, culpritId: 'session-memory' });
    });

    it('exits 0 on a stateless app; --json - puts the JSON on stdout', async () => {
      const out = await unpinned(
        '--app',
        'node apps/clean-cookie.mjs',
        '--har',
        har('clean-cookie'),
        '--env',
        'COOKIE_SECRET=from-the-environment',
        '--ready',
        '/',
        '--json',
        '-',
      );
      expect(out.code).toBe(0);
      expect(JSON.parse(out.stdout)).toMatchObject({ verdict: 'stateless', replicas: 3, findings: [] });
      expect(out.stderr).toMatch(/✓ stateless as far as this journey shows/);
    });

    it('says next to the verdict, and in warnings, that a WebSocket was not replayed', async () => {
      const recording = JSON.parse(readFileSync(har('clean-cookie'), 'utf8'));
      const first = recording.log.entries[0];
      const socket = structuredClone(first);
      socket.request.url = `${new URL(first.request.url).origin.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`;
      socket.response.status = 101;
      // Opened last, as a page opens its socket after loading.
      socket.startedDateTime = new Date(
        Date.parse(recording.log.entries.at(-1).startedDateTime) + 1000,
      ).toISOString();
      recording.log.entries.push(socket);
      const path = join(scratch, 'with-websocket.har');
      writeFileSync(path, JSON.stringify(recording));
      const json = join(scratch, 'with-websocket.json');
      const out = await unpinned(
        '--app',
        'node apps/clean-cookie.mjs',
        '--har',
        path,
        '--env',
        'COOKIE_SECRET=from-the-environment',
        '--json',
        json,
      );
      expect(out.code).toBe(0);
      const lines = out.stdout.split('\n');
      expect(lines[0]).toMatch(/^✓ stateless/);
      expect(lines[1]).toMatch(
        /^ {2}! The recording has 1 WebSocket connection \(Socket\.IO over WebSocket\)/,
      );
      const result = JSON.parse(readFileSync(json, 'utf8'));
      expect(result.warnings).toEqual([
        {
          code: 'UNPINNED_WARN_CHECK_REALTIME_NOT_REPLAYED',
          message: expect.stringContaining('docs/check.md#what-it-cannot-see'),
        },
      ]);
      expect(result.journey.skipped).toEqual([expect.objectContaining({ entry: 5 })]);
    });

    it('replays a journey written in code (--script)', async () => {
      const out = await unpinned(
        '--app',
        'node apps/csrf-memory.mjs',
        '--script',
        'journeys/csrf.mjs',
        '--json',
        '-',
      );
      expect(out.code).toBe(1);
      expect(JSON.parse(out.stdout).findings[0]).toMatchObject({
        step: 4,
        request: 'POST /transfer',
        culpritId: 'csrf-memory',
        readOn: 'replica-1',
      });
    });
  });

  it('on Ctrl-C stops every replica and removes every copy it made', async () => {
    const dir = join(scratch, 'interrupted');
    mkdirSync(dir);
    const child = spawn(
      process.execPath,
      [cli, 'check', '--app', 'node apps/session-memory.mjs', '--har', har('session-memory')],
      {
        cwd: fixtures,
        env: { ...process.env, UNPINNED_CHECK_DIR: dir },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    // Interrupted while the three replicas of the rotation are starting or serving.
    await waitFor(() => stderr.includes('rotation:'), { timeoutMs: 30_000, what: 'the rotation to begin' });
    const inside = () =>
      readdirSync('/proc').filter((pid) => {
        try {
          return /^\d+$/.test(pid) && readlinkSync(`/proc/${pid}/cwd`).startsWith(dir);
        } catch {
          return false;
        }
      });
    await waitFor(() => inside().length > 0, { what: 'a replica running in the check directory' });
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toMatch(/interrupted; every replica it started is stopped/);
    expect(inside()).toEqual([]);
    expect(readdirSync(dir)).toEqual([]);
  });

  it.each([
    ['', 'node apps/session-memory.mjs'],
    [' (an --app of two commands)', 'true && STORE=memory node apps/session-memory.mjs'],
  ])(
    'killed outright (SIGKILL)%s: its watchdog stops every replica and its Redis and removes every copy',
    async (_, app) => {
      const dir = join(scratch, `killed-${randomUUID()}`);
      mkdirSync(dir);
      const tag = randomUUID();
      const child = spawn(process.execPath, [cli, 'check', '--app', app, '--har', har('session-memory')], {
        cwd: fixtures,
        env: { ...process.env, UNPINNED_CHECK_DIR: dir, UNPINNED_TEST_TAG: tag },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      // Drained, never read: a full pipe would stall the check.
      child.stdout.resume();
      child.stderr.resume();
      const exited = new Promise<NodeJS.Signals | null>((resolve) =>
        child.once('exit', (_, signal) => resolve(signal)),
      );
      // What the check started, as it runs: its children (the watchdog, the Redis, the replicas) and
      // whatever carries the tag (redis-server rewrites its environment, so it is found by parent).
      const started = () =>
        [...new Set([...processTree(child.pid!), ...tagged(tag)])].filter((pid) => pid !== child.pid);
      const pids = await waitFor(
        () => {
          const now = started();
          const kinds = now.map(commandLine);
          const complete =
            kinds.some((c) => c.includes('redis-server')) &&
            kinds.some((c) => c.includes('session-memory')) &&
            kinds.some((c) => c.includes('watchdog-process.js'));
          return complete ? now : null;
        },
        { timeoutMs: 30_000, what: 'the watchdog, a replica and the Redis running' },
      );
      expect(pids.map(commandLine).filter((c) => c.includes('watchdog-process.js'))).toHaveLength(1);
      child.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');
      await waitGone(pids, 'every process the check started');
      expect(tagged(tag)).toEqual([]);
      await waitFor(() => readdirSync(dir).length === 0, { what: 'the watchdog to remove the copies' });
    },
  );

  describe.concurrent('bad input: a clear message and exit code 2', () => {
    const expectSetupError = (out: Outcome, code: string, message: RegExp) => {
      expect(out.code).toBe(2);
      expect(out.stderr).toMatch(message);
      expect(out.stderr).toContain(`(${code})`);
      expect(out.stdout).toBe('');
    };

    it('a file that is not HAR', async () => {
      const out = await unpinned('--app', 'node apps/clean-cookie.mjs', '--har', 'apps/clean-cookie.mjs');
      expectSetupError(
        out,
        'UNPINNED_ERR_CHECK_HAR_INVALID',
        /apps\/clean-cookie\.mjs is not a HAR file .*it is not JSON/,
      );
    });

    it('an app that exits', async () => {
      const out = await unpinned('--app', 'node apps/exits.mjs', '--har', har('clean-cookie'));
      expectSetupError(
        out,
        'UNPINNED_ERR_CHECK_APP_START',
        /replica-1 exited while starting \(exit code 3\)[\s\S]*DATABASE_URL is not set/,
      );
    });

    it('a port already taken', async () => {
      const held: Server = await new Promise((resolve) => {
        const server = createServer().listen(0, '127.0.0.1', () => resolve(server));
      });
      try {
        const port = (held.address() as { port: number }).port;
        const out = await unpinned(
          '--app',
          'node apps/fixed-port.mjs',
          '--har',
          har('clean-cookie'),
          '--env',
          `FIXED_PORT=${port}`,
        );
        expectSetupError(
          out,
          'UNPINNED_ERR_CHECK_PORT_TAKEN',
          /already taken \(EADDRINUSE\).*process\.env\.PORT/,
        );
      } finally {
        held.close();
      }
    });

    it('a journey the app rejects with every step on one replica', async () => {
      // Without response bodies the CSRF token a page's script put in a header cannot be followed.
      const doc = JSON.parse(readFileSync(har('clean-noisy'), 'utf8'));
      for (const e of doc.log.entries) delete e.response.content.text;
      const bare = join(scratch, 'bare.har');
      writeFileSync(bare, JSON.stringify(doc));
      const out = await unpinned('--app', 'node apps/clean-noisy.mjs', '--har', bare);
      expectSetupError(
        out,
        'UNPINNED_ERR_CHECK_REJECTED',
        /rejects step 5 \(POST \/api\/notes\) even with every step on one replica: the recording shows 201, replica-1 answered 403/,
      );
    });

    it('a journey the app rejects because the recording left out a request body', async () => {
      // As Chromium records a form that uploads a file: the request's headers, no postData.
      const doc = JSON.parse(readFileSync(har('clean-noisy'), 'utf8'));
      delete doc.log.entries[1].request.postData;
      const upload = join(scratch, 'upload.har');
      writeFileSync(upload, JSON.stringify(doc));
      const out = await unpinned('--app', 'node apps/clean-noisy.mjs', '--har', upload);
      expectSetupError(
        out,
        'UNPINNED_ERR_CHECK_REJECTED',
        /rejects step 2 \(POST \/login\).*The recording left out the request body of step 2, POST \/login \(browsers do not record file uploads\): write this journey with --script \(docs\/check\.md#a-journey-in-code\)\./,
      );
    });

    it('an app that dies in the middle of the journey', async () => {
      const out = await unpinned('--app', 'node apps/crashes.mjs', '--script', 'journeys/boom.mjs');
      expectSetupError(
        out,
        'UNPINNED_ERR_CHECK_APP_EXITED',
        /replica-1 exited during step 2 \(GET \/boom\) with exit code 70/,
      );
    });

    it('a journey script that is not one', async () => {
      const none = join(scratch, 'none.mjs');
      writeFileSync(none, 'export const steps = [];\n');
      const empty = join(scratch, 'empty.mjs');
      writeFileSync(empty, 'export default async function journey() {}\n');
      const noDefault = await unpinned('--app', 'node apps/clean-cookie.mjs', '--script', none);
      expectSetupError(
        noDefault,
        'UNPINNED_ERR_CHECK_SCRIPT_INVALID',
        /must export a default async function/,
      );
      const noStep = await unpinned('--app', 'node apps/clean-cookie.mjs', '--script', empty);
      expectSetupError(
        noStep,
        'UNPINNED_ERR_CHECK_SCRIPT_INVALID',
        /made no request: a journey needs at least one step/,
      );
    });

    it('usage errors', async () => {
      const none = await unpinned('--har', har('clean-cookie'));
      expect(none.code).toBe(2);
      expect(none.stderr).toMatch(/required option '--app <command>'/);
      const both = await unpinned(
        '--app',
        'node apps/clean-cookie.mjs',
        '--har',
        har('clean-cookie'),
        '--script',
        'x.mjs',
      );
      expectSetupError(both, 'UNPINNED_ERR_CHECK_USAGE', /exactly one of --har <file> or --script <file>/);
      const one = await unpinned(
        '--app',
        'node apps/clean-cookie.mjs',
        '--har',
        har('clean-cookie'),
        '--replicas',
        '1',
      );
      expectSetupError(one, 'UNPINNED_ERR_CHECK_USAGE', /--replicas must be an integer from 2 to 16/);
      const env = await unpinned(
        '--app',
        'node apps/clean-cookie.mjs',
        '--har',
        har('clean-cookie'),
        '--env',
        'NOPE',
      );
      expectSetupError(env, 'UNPINNED_ERR_CHECK_USAGE', /--env takes KEY=VALUE/);
    });
  });
});
