/**
 * An app server's port taken by another process between `freePort()` and the app's own listen:
 * the readiness probe must not take the stranger's answer for the app's. Real processes: the
 * app is a child that tells the test its PORT and waits for the test to take that port first.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AppProcess } from '../../src/system/app-process.js';
import { portOwnedBy } from '../../src/system/port-owner.js';
import { waitFor } from '../helpers/wait.js';

const linux = existsSync('/proc/net/tcp');
const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

function listen(body: string): Promise<{ server: Server; port: number }> {
  const server = createServer((_req, res) => res.end(body));
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      cleanup.push(() => new Promise((done) => server.close(done)));
      resolve({ server, port: (server.address() as { port: number }).port });
    }),
  );
}

// Writes its PORT to PORT_FILE, waits until GO_FILE exists, then serves "app" on PORT.
const app = `
const { writeFileSync, existsSync } = require('node:fs');
writeFileSync(process.env.PORT_FILE, process.env.PORT);
const deadline = Date.now() + 15000;
const wait = () => {
  if (existsSync(process.env.GO_FILE) || Date.now() > deadline) {
    require('node:http').createServer((_q, s) => s.end('app')).listen(Number(process.env.PORT), '127.0.0.1');
  } else setTimeout(wait, 10);
};
wait();
`;

describe.runIf(linux)('port owner', () => {
  it('tells a port this process listens on from one a child of a shell listens on', async () => {
    const { port: mine } = await listen('mine');
    const serve =
      "const s = require('node:http').createServer(); s.listen(0, '127.0.0.1', () => console.log(s.address().port, process.pid));";
    // Not exec'd: the listener is the shell's child, found as a descendant.
    const child = spawn('sh', ['-c', `${JSON.stringify(process.execPath)} -e "${serve}"; true`], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    cleanup.push(() => child.kill('SIGKILL'));
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    const [theirs, grandchild] = (
      await waitFor(() => (out.includes('\n') ? out : null), { what: 'the child to print its port' })
    )
      .trim()
      .split(' ')
      .map(Number);
    cleanup.push(() => process.kill(grandchild!, 'SIGKILL'));
    expect(portOwnedBy(process.pid, mine)).toBe('yes');
    expect(portOwnedBy(child.pid!, mine)).toBe('no');
    expect(portOwnedBy(child.pid!, theirs!)).toBe('yes');
  });

  it('starts the app again on another port when a stranger took the first one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'port-taken-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const portFile = join(dir, 'port');
    const goFile = join(dir, 'go');
    const proc = new AppProcess({
      name: 'app-1',
      command: [process.execPath, '-e', app],
      env: { PORT_FILE: portFile, GO_FILE: goFile },
      healthPath: '/',
      readyWhen: 'answers',
      startTimeoutMs: 15_000,
      stopTimeoutMs: 5_000,
    });
    cleanup.push(() => proc.kill());
    const started = proc.start();
    const first = Number(
      await waitFor(() => existsSync(portFile) && readFileSync(portFile, 'utf8'), {
        what: 'the app to tell its port',
      }),
    );
    // The stranger takes the app's port before the app listens, as a test server on port 0 of
    // another test file may be handed it by the kernel.
    const stranger = createServer((_req, res) => res.end('stranger'));
    await new Promise<void>((resolve) => stranger.listen(first, '127.0.0.1', resolve));
    cleanup.push(() => {
      stranger.closeAllConnections();
      return new Promise((done) => stranger.close(done));
    });
    writeFileSync(goFile, '');
    await started;
    expect(proc.port).not.toBe(first);
    expect(await (await fetch(proc.url)).text()).toBe('app');
    expect(portOwnedBy(proc.pid!, proc.port)).toBe('yes');
  });
});
