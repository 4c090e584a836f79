/**
 * `unpinned lb` as a real child process: flags and a JSON config file, the admin API, and
 * graceful shutdown on SIGTERM (a request in flight finishes, then the process exits 0).
 */
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackends, type TestBackend } from '../helpers/backends.js';
import { send } from '../helpers/client.js';
import { waitFor } from '../helpers/wait-for.js';

const root = new URL('../..', import.meta.url).pathname;
let out: string;
let servers: TestBackend[];

beforeAll(async () => {
  // Build the CLI into a private directory so the test runs exactly what `npm run build` ships.
  out = mkdtempSync(join(tmpdir(), 'unpinned-cli-'));
  execFileSync(process.execPath, [
    join(root, 'node_modules/typescript/bin/tsc'),
    '-p',
    join(root, 'tsconfig.build.json'),
    '--outDir',
    out,
  ]);
  symlinkSync(join(root, 'node_modules'), join(out, 'node_modules'));
  servers = await startBackends(['a', 'b']);
}, 60_000);
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  rmSync(out, { recursive: true, force: true });
});

function run(args: string[]) {
  const child = spawn(process.execPath, [join(out, 'src/cli/index.js'), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    stdout += c;
  });
  child.stderr.setEncoding('utf8').on('data', (c: string) => {
    stderr += c;
  });
  const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
  return { child, exited, stdout: () => stdout, stderr: () => stderr };
}

describe('unpinned lb', () => {
  it('runs from a config file plus flags, and shuts down gracefully on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unpinned-cfg-'));
    const config = join(dir, 'lb.json');
    writeFileSync(
      config,
      JSON.stringify({
        listen: '127.0.0.1:0',
        backends: [servers[0]!.url],
        strategy: 'round-robin',
        servedByHeader: true,
        admin: { listen: '127.0.0.1:0', token: 'from-file' },
      }),
    );
    const lb = run([
      'lb',
      '--config',
      config,
      '--backend',
      servers[0]!.url,
      '--backend',
      servers[1]!.url,
      '--strategy',
      'p2c',
    ]);
    await waitFor(() => /admin on/.test(lb.stdout()), { message: 'the CLI to print its addresses' });
    const [, port, adminPort] =
      /listening on http:\/\/127\.0\.0\.1:(\d+) \(strategy p2c, 2 servers\), admin on http:\/\/127\.0\.0\.1:(\d+)/.exec(
        lb.stdout(),
      )!;
    const base = `http://127.0.0.1:${port}`;
    const ok = await send(`${base}/`);
    expect(ok.status).toBe(200);
    expect(ok.headers['x-served-by']).toBeDefined(); // from the file
    const admin = await send(`http://127.0.0.1:${adminPort}/servers`, {
      headers: { authorization: 'Bearer from-file' },
    });
    expect(admin.json<{ servers: unknown[] }>().servers).toHaveLength(2); // flags replaced the file's list

    // Hold a request in flight on both servers, then SIGTERM.
    let release: (() => void)[] = [];
    for (const s of servers)
      s.handler = (_req, res) => void release.push(() => res.writeHead(200).end('late'));
    const inFlight = send(`${base}/slow`);
    await waitFor(() => release.length === 1, { message: 'request held by a server' });
    lb.child.kill('SIGTERM');
    await waitFor(() => /SIGTERM/.test(lb.stdout()), { message: 'the CLI to acknowledge SIGTERM' });
    await expect(send(`${base}/`)).rejects.toThrow(); // no longer accepting connections
    for (const r of release) r();
    release = [];
    const finished = await inFlight;
    expect(finished.status).toBe(200);
    expect(finished.text).toBe('late');
    const [code] = await lb.exited;
    expect(code).toBe(0);
    for (const s of servers) s.handler = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('rejects an invalid option with its error code and exit status 1', async () => {
    const lb = run(['lb', '--listen', '127.0.0.1:0', '--backend', 'ftp://nope', '--strategy', 'round-robin']);
    const [code] = await lb.exited;
    expect(code).toBe(1);
    expect(lb.stderr()).toContain('UNPINNED_ERR_LB_INVALID_OPTION');
  });
});
