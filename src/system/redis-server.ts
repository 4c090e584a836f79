/**
 * A private `redis-server` process: a free loopback port (never 6379, which
 * belongs to the machine), its own temp directory, stopped on request. Used by
 * the test harness, the benchmarks and the running system (`unpinned up`).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Path of redis-server on PATH, or null. */
export function findRedisServer(): string | null {
  try {
    return execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

const redisBinary = findRedisServer();

export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const addr = srv.address();
        srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
      });
    });
    if (port !== 6379 && port !== 0) return port;
  }
}

export interface RedisServerOptions {
  /** Keep data across `restart()` (an RDB snapshot written on shutdown). */
  persist?: boolean;
  extraArgs?: string[];
}

export class RedisServer {
  readonly port: number;
  readonly dir: string;
  #options: RedisServerOptions;
  #child: ChildProcess | null = null;

  private constructor(port: number, options: RedisServerOptions) {
    this.port = port;
    this.#options = options;
    this.dir = mkdtempSync(join(tmpdir(), 'unpinned-redis-'));
  }

  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    if (!redisBinary) throw new Error('redis-server is not on PATH');
    const server = new RedisServer(await freePort(), options);
    await server.#spawn();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  async #spawn(): Promise<void> {
    const args = [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--dir',
      this.dir,
      '--save',
      this.#options.persist ? '3600 1' : '',
      '--appendonly',
      'no',
      '--daemonize',
      'no',
      '--protected-mode',
      'no',
      ...(this.#options.extraArgs ?? []),
    ];
    const child = spawn(redisBinary!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) {
          child.stdout?.off('data', onData);
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}:\n${output}`)));
    });
    // Keep draining the pipes so a chatty server never blocks on a full pipe.
    child.stdout?.resume();
    child.stderr?.resume();
  }

  /** Graceful stop (SIGTERM: Redis saves its snapshot first when persist is on). */
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.#child = null;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGCONT');
    child.kill('SIGTERM');
    await exited;
  }

  /** Stop, stay down for `downMs` (an outage of that length, as the lab models it), start again. */
  async restart(downMs = 0): Promise<void> {
    await this.stop();
    if (downMs > 0) await new Promise((resolve) => setTimeout(resolve, downMs));
    await this.#spawn();
  }

  /** Freeze the server (SIGSTOP): connections stay open, nothing answers. */
  freeze(): void {
    this.#child?.kill('SIGSTOP');
  }

  thaw(): void {
    this.#child?.kill('SIGCONT');
  }

  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
