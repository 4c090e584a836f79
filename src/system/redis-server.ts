/**
 * A private `redis-server` process: a free loopback port (never 6379, which
 * belongs to the machine), its own temp directory, stopped on request. Used by
 * the test harness, the benchmarks and the running system (`unpinned up`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findBinary } from './binaries.js';
import { killGroup, type Watchdog } from './watchdog.js';

/** Path of redis-server on PATH, or null. */
export function findRedisServer(): string | null {
  return findBinary('redis-server');
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
  /** Run as a Sentinel with this configuration (Sentinel rewrites its file, so it gets its own). */
  sentinelConfig?: string;
  /**
   * When given (the running system), the server runs in its own process group and the watchdog
   * stops it and removes its directory if the supervisor dies first: redis-server has no way to
   * notice that its parent is gone.
   */
  watchdog?: Watchdog;
  /** Called when a server that was ready ends without being stopped, killed or restarted. */
  onCrash?(exit: { code: number | null; signal: NodeJS.Signals | null }): void;
}

export class RedisServer {
  readonly dir: string;
  #port: number;
  #options: RedisServerOptions;
  #child: ChildProcess | null = null;
  #exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;

  private constructor(port: number, options: RedisServerOptions) {
    this.#port = port;
    this.#options = options;
    this.dir = mkdtempSync(join(tmpdir(), 'unpinned-redis-'));
    options.watchdog?.keep(this.dir);
  }

  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    if (!redisBinary) throw new Error('redis-server is not on PATH');
    const server = new RedisServer(await freePort(), options);
    try {
      await server.#spawn();
    } catch (error) {
      // A free port can be taken between the probe and redis-server's bind: once more, on another.
      if (!/Address already in use/.test(String(error))) throw error;
      server.#port = await freePort();
      await server.#spawn();
    }
    return server;
  }

  get port(): number {
    return this.#port;
  }

  /** How the last server process ended (null while it runs): a store that died on its own says so. */
  get exit(): { code: number | null; signal: NodeJS.Signals | null } | null {
    return this.#exit;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  async #spawn(): Promise<void> {
    const sentinel = this.#options.sentinelConfig;
    if (sentinel !== undefined) writeFileSync(join(this.dir, 'sentinel.conf'), sentinel);
    const args = [
      ...(sentinel === undefined ? [] : [join(this.dir, 'sentinel.conf'), '--sentinel']),
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--dir',
      this.dir,
      ...(sentinel === undefined
        ? ['--save', this.#options.persist ? '3600 1' : '', '--appendonly', 'no']
        : []),
      '--daemonize',
      'no',
      '--protected-mode',
      'no',
      ...(this.#options.extraArgs ?? []),
    ];
    const watchdog = this.#options.watchdog;
    const child = spawn(redisBinary!, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: watchdog !== undefined,
    });
    watchdog?.adopt(child, 1);
    this.#child = child;
    this.#exit = null;
    let ready = false;
    child.once('exit', (code, signal) => {
      this.#exit = { code, signal };
      // #end() forgets the child before it signals it: still ours means nobody asked it to end.
      if (ready && this.#child === child) this.#options.onCrash?.({ code, signal });
    });
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        // A Sentinel never says "Ready": it is listening once it monitors its master.
        if (output.includes(sentinel === undefined ? 'Ready to accept connections' : '+monitor master')) {
          child.stdout?.off('data', onData);
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}:\n${output}`)));
    });
    ready = true;
    // Keep draining the pipes so a chatty server never blocks on a full pipe.
    child.stdout?.resume();
    child.stderr?.resume();
  }

  /** Graceful stop (SIGTERM: Redis saves its snapshot first when persist is on). */
  stop(): Promise<void> {
    return this.#end('SIGTERM');
  }

  /** Crash the server (SIGKILL): no snapshot, no goodbye to clients or replicas. */
  kill(): Promise<void> {
    return this.#end('SIGKILL');
  }

  async #end(signal: NodeJS.Signals): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.#child = null;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    this.#signal(child, 'SIGCONT');
    this.#signal(child, signal);
    await exited;
  }

  #signal(child: ChildProcess | null, signal: NodeJS.Signals): void {
    if (this.#options.watchdog && child?.pid !== undefined) killGroup(child.pid, signal);
    else child?.kill(signal);
  }

  /** Stop, stay down for `downMs` (an outage of that length, as the lab models it), start again. */
  async restart(downMs = 0): Promise<void> {
    await this.stop();
    if (downMs > 0) await new Promise((resolve) => setTimeout(resolve, downMs));
    await this.#spawn();
  }

  /** Freeze the server (SIGSTOP): connections stay open, nothing answers. */
  freeze(): void {
    this.#signal(this.#child, 'SIGSTOP');
  }

  thaw(): void {
    this.#signal(this.#child, 'SIGCONT');
  }

  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
    this.#options.watchdog?.release(this.dir);
  }
}
