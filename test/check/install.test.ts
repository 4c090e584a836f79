/**
 * The path docs/getting-started.md and docs/check.md give a new user: unpinned
 * installed into their own app from a checkout (`npm install <checkout>`), then
 * `npx unpinned check` run in the app's directory. The app here has no other
 * dependency and was never seen by the check's fixtures.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeRedis } from '../helpers/redis-server.js';

const root = join(import.meta.dirname, '..', '..');
const npm = join(dirname(process.execPath), 'npm');
const app = mkdtempSync(join(tmpdir(), 'check-install-test-'));
afterAll(() => rmSync(app, { recursive: true, force: true }));

// A login that hands out a session id and remembers it in a Map: the state the check must find.
const server = `
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

const sessions = new Map();
createServer((req, res) => {
  const sid = /(?:^|; )sid=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
  if (req.method === 'POST' && req.url === '/login') {
    const id = randomBytes(16).toString('hex');
    sessions.set(id, { user: 'ann' });
    res.writeHead(303, { location: '/me', 'set-cookie': \`sid=\${id}; Path=/; HttpOnly\` }).end();
  } else if (req.url === '/me') {
    const user = sessions.get(sid)?.user;
    res.writeHead(user ? 200 : 401, { 'content-type': 'text/plain' }).end(user ? \`hello \${user}\` : 'log in first');
  } else {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('home');
  }
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

const journey = `
export default async function journey(app) {
  await app.get('/');
  await app.post('/login', { form: { user: 'ann' } });
  await app.get('/me');
  await app.get('/me');
}
`;

beforeAll(() => {
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'my-app', private: true, type: 'module' }));
  writeFileSync(join(app, 'server.js'), server);
  writeFileSync(join(app, 'journey.mjs'), journey);
  // A checkout installs as a link to itself: no registry, nothing downloaded.
  execFileSync(npm, ['install', '--no-audit', '--no-fund', '--offline', root], { cwd: app, stdio: 'pipe' });
}, 120_000);

describeRedis('unpinned installed from a checkout into an app', () => {
  it('npx unpinned check finds the sessions the app keeps in a Map', async () => {
    const out = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        npm,
        [
          'exec',
          '--offline',
          '--',
          'unpinned',
          'check',
          '--app',
          'node server.js',
          '--script',
          'journey.mjs',
          '--json',
          'out.json',
        ],
        { cwd: app, timeout: 120_000 },
        (error, stdout, stderr) =>
          resolve({ code: error ? Number((error as { code?: number }).code ?? -1) : 0, stdout, stderr }),
      );
    });
    expect(out.code, out.stderr).toBe(1);
    expect(out.stdout).toContain('stateful');
    const result = JSON.parse(readFileSync(join(app, 'out.json'), 'utf8'));
    expect(result).toMatchObject({ verdict: 'stateful', replicas: 3 });
    expect(result.findings[0]).toMatchObject({ request: 'GET /me', culpritId: 'session-memory' });
  });
});
