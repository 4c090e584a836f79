/**
 * A replica as if on its own machine: the user's command, started by the
 * system's one process helper (`AppProcess`), with its own PORT, TMPDIR, HOME
 * and copy of the working directory. Nothing is shared with the other replicas
 * but what the environment names (the check's Redis, the user's --env).
 */
import { mkdirSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { join } from 'node:path';
import { AppProcess, listenFailed, PortTakenError, shellCommand } from '../system/app-process.js';
import type { Watchdog } from '../system/watchdog.js';
import { CheckError } from './errors.js';
import type { Identity } from './normalize.js';
import { copyWorkdir } from './workdir.js';

export interface MachineOptions {
  /** The user's server, a shell command line (`node server.js`). */
  command: string;
  /** The working directory each replica gets a copy of. */
  cwd: string;
  env: Record<string, string>;
  /** A path that answers 2xx when the app is ready, or null: any HTTP answer on `/`. */
  readyPath: string | null;
  startTimeoutMs: number;
  /** The check's scratch directory; each machine gets a folder in it. */
  root: string;
  /**
   * Runs the replica in a process group of its own, signalled as a whole, and ends that group if
   * the check dies without stopping it. Required: the shell's trap (shellCommand) relies on the
   * app getting the group's SIGTERM itself.
   */
  watchdog: Watchdog;
}

const tail = (output: string) => {
  const lines = output.trimEnd().split('\n').slice(-15).join('\n');
  return lines ? `\nIts output ended with:\n${lines}` : ' It wrote nothing.';
};

/**
 * @example
 * const m = Machine.create(options, 'replica-1', 'rotation-replica-1');
 * await m.start();
 * await m.restart();
 * await m.dispose();
 */
export class Machine {
  readonly name: string;
  readonly dir: string;
  readonly appDir: string;
  #app: AppProcess;
  #agent = new Agent({ keepAlive: true, maxSockets: 4 });
  #options: MachineOptions;

  private constructor(options: MachineOptions, name: string, folder: string) {
    this.name = name;
    this.#options = options;
    this.dir = join(options.root, folder);
    this.appDir = copyWorkdir(options.cwd, this.dir, options.root);
    const tmp = join(this.dir, 'tmp');
    const home = join(this.dir, 'home');
    mkdirSync(tmp);
    mkdirSync(home);
    this.#app = new AppProcess({
      name,
      command: shellCommand(options.command),
      gated: true,
      env: { ...options.env, TMPDIR: tmp, TMP: tmp, TEMP: tmp, HOME: home, PWD: this.appDir },
      cwd: this.appDir,
      healthPath: options.readyPath ?? '/',
      readyWhen: options.readyPath ? 'ok' : 'answers',
      startTimeoutMs: options.startTimeoutMs,
      stopTimeoutMs: 5_000,
      watchdog: options.watchdog,
    });
  }

  /** Copies the working directory; `start()` then starts the app. */
  static create(options: MachineOptions, name: string, folder: string): Machine {
    return new Machine(options, name, folder);
  }

  /** Starts the app; resolves once it is ready. */
  start(): Promise<void> {
    return this.#start();
  }

  get port(): number {
    return this.#app.port;
  }

  get agent(): Agent {
    return this.#agent;
  }

  get output(): string {
    return this.#app.output;
  }

  /** Null while running; how it ended otherwise. */
  get exit(): { code: number | null; signal: NodeJS.Signals | null } | null {
    return this.#app.exit;
  }

  /**
   * Whether the process ends within `ms`: after a failed request, its exit event can
   * come a moment after the socket's error, and the message depends on which it is.
   */
  async exitsWithin(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.exit && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    return this.exit !== null;
  }

  identity(): Identity {
    // The app's own pid (what it prints), not the shell's that started it.
    return { name: this.name, pid: this.#app.servingPid, port: this.port, paths: [this.dir] };
  }

  async #start(): Promise<void> {
    try {
      await this.#app.start();
    } catch (cause) {
      const output = this.#app.output;
      const exit = this.#app.exit;
      if (cause instanceof PortTakenError) {
        throw new CheckError(
          'UNPINNED_ERR_CHECK_PORT_TAKEN',
          `${this.name} could not be reached on its own port: ${cause.message} The check talks only to the replicas it started, so it stops here; run it again when the machine is quieter.`,
          { cause },
        );
      }
      if (listenFailed(output)) {
        throw new CheckError(
          'UNPINNED_ERR_CHECK_PORT_TAKEN',
          `${this.name} could not listen: the port it asked for is already taken (EADDRINUSE). Each replica gets its own free port in PORT: make the app listen on process.env.PORT.${tail(output)}`,
          { cause },
        );
      }
      if (exit) {
        throw new CheckError(
          'UNPINNED_ERR_CHECK_APP_START',
          `${this.name} exited while starting (${exit.signal ?? `exit code ${exit.code}`}): \`${this.#options.command}\` must keep running and serve HTTP on process.env.PORT.${tail(output)}`,
          { cause },
        );
      }
      const ready = this.#options.readyPath
        ? `answer 2xx on ${this.#options.readyPath}`
        : 'answer HTTP (give --ready <path> if it needs a path that answers 2xx when ready)';
      throw new CheckError(
        'UNPINNED_ERR_CHECK_APP_START',
        `${this.name} did not ${ready} on its PORT (${this.port}) within ${Math.round(this.#options.startTimeoutMs / 1000)} s. Does it listen on process.env.PORT? Is --start-timeout long enough?${tail(output)}`,
        { cause },
      );
    }
  }

  /** SIGTERM, wait for its whole process group to exit, start again (same disk, new process). */
  async restart(): Promise<void> {
    this.#agent.destroy();
    this.#agent = new Agent({ keepAlive: true, maxSockets: 4 });
    await this.#app.stop();
    await this.#start();
  }

  /** Stop (SIGTERM, SIGKILL after 5 s) and remove its disk. */
  async dispose(): Promise<void> {
    this.#agent.destroy();
    await this.#app.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
