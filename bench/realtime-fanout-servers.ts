/**
 * The simulated app servers of `npm run bench:realtime-fanout` as seen from the coordinator: one
 * child process each (realtime-fanout-server.js), spoken to over IPC, waited on with deadlines.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { children } from './children.js';
import type { FromServer, ToServer } from './realtime-fanout-protocol.js';

type Of<T extends FromServer['type']> = Extract<FromServer, { type: T }>;

export class ServerProcess {
  readonly #child: ChildProcess;
  readonly #inbox: FromServer[] = [];
  #wake: (() => void) | null = null;
  #failure: Error | null = null;
  #exiting = false;

  constructor(file: string) {
    this.#child = fork(file, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.push(this.#child);
    this.#child.on('message', (message: FromServer) => {
      if (message.type === 'failed') this.#failure ??= new Error(`app server: ${message.message}`);
      this.#inbox.push(message);
      this.#wake?.();
    });
    this.#child.once('exit', (code, signal) => {
      if (!this.#exiting) this.#failure ??= new Error(`app server exited (${code ?? signal})`);
      this.#wake?.();
    });
  }

  send(message: ToServer): void {
    this.#child.send(message);
  }

  /** The next message of this type, or null when `deadline` (performance.now()) passes first. */
  async next<T extends FromServer['type']>(type: T, deadline: number): Promise<Of<T> | null> {
    for (;;) {
      if (this.#failure) throw this.#failure;
      const at = this.#inbox.findIndex((m) => m.type === type);
      if (at >= 0) return this.#inbox.splice(at, 1)[0] as Of<T>;
      const left = deadline - performance.now();
      if (left <= 0) return null;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = null;
    }
  }

  async exit(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    this.#exiting = true;
    const exited = once(this.#child, 'exit');
    try {
      this.#child.send({ type: 'exit' } satisfies ToServer);
    } catch {
      this.#child.kill('SIGKILL'); // its IPC channel is already gone
    }
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

/** Every server's next message of `type`; throws when one does not send it before `deadline`. */
export async function fromAll<T extends FromServer['type']>(
  servers: ServerProcess[],
  type: T,
  deadline: number,
): Promise<Of<T>[]> {
  const got = await Promise.all(servers.map((s) => s.next(type, deadline)));
  if (got.some((m) => m === null)) throw new Error(`an app server did not answer "${type}" in time`);
  return got as Of<T>[];
}
