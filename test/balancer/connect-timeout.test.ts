/**
 * Connect timeouts against a real listener whose accept queue is full (a child process that
 * listens, then blocks its event loop so it never accepts): the balancer's connect attempt hangs
 * until `timeouts.connectMs`. A request
 * that never connected is retried elsewhere whatever its method; with nowhere else to go the
 * answer is 504.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBalancer } from '../../src/balancer/index.js';
import { startBackend, type TestBackend } from '../helpers/backends.js';
import { send } from '../helpers/client.js';
import { waitFor } from '../helpers/wait-for.js';

let child: ChildProcess;
let blackhole: string;
const fillers: Socket[] = [];
let ok: TestBackend;

beforeAll(async () => {
  const script = fileURLToPath(new URL('../fixtures/no-accept.mjs', import.meta.url));
  child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let port = 0;
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    port = Number(d.trim());
  });
  await waitFor(() => port > 0, { message: 'the listener to print its port' });
  blackhole = `http://127.0.0.1:${port}`;
  // Fill the accept queue (backlog 1 admits two) so later SYNs are dropped.
  let connected = 0;
  for (let i = 0; i < 4; i++) {
    const s = connect(port, '127.0.0.1', () => connected++);
    s.on('error', () => {});
    fillers.push(s);
  }
  await waitFor(() => connected >= 2, { message: 'the accept queue to fill' });
  ok = await startBackend('ok');
});
afterAll(async () => {
  for (const s of fillers) s.destroy();
  child.kill('SIGKILL');
  await ok.stop();
});

describe('connect timeout', () => {
  it('a POST that could not connect in time is retried on another server', async () => {
    const lb = createBalancer({
      backends: [blackhole, ok.url],
      strategy: 'round-robin',
      timeouts: { connectMs: 300 },
      servedByHeader: true,
    });
    const base = `http://127.0.0.1:${(await lb.listen(0, '127.0.0.1')).port}`;
    const reply = await send(`${base}/pay`, { method: 'POST', body: 'once' });
    expect(reply.status).toBe(200);
    expect(ok.received.filter((r) => r.method === 'POST')).toHaveLength(1);
    expect(await lb.metrics()).toMatch(/^unpinned_lb_retries_total 1$/m);
    await lb.close();
  });

  it('with no other server: 504 UNPINNED_ERR_LB_CONNECT_TIMEOUT', async () => {
    const lb = createBalancer({ backends: [blackhole], timeouts: { connectMs: 300 } });
    const base = `http://127.0.0.1:${(await lb.listen(0, '127.0.0.1')).port}`;
    const reply = await send(`${base}/`);
    expect(reply.status).toBe(504);
    expect(reply.headers['x-unpinned-error']).toBe('UNPINNED_ERR_LB_CONNECT_TIMEOUT');
    await lb.close();
  });
});
