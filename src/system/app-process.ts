/**
 * One app server of the running system: a child process given PORT (and the
 * store's address) in its environment, judged ready by its health check.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { SystemError } from './errors.js';
import { portOwner } from './port-owner.js';
import { freePort } from './redis-server.js';
import { groupRunning, killGroup, type Watchdog } from './watchdog.js';

/**
 * The user's command line as a shell runs it: `STORE=memory node server.js` and `npm run build &&
 * node server.js` as well as `node server.js`, so no `exec` in front of it (which takes only a
 * simple command and replaces the shell with its first one). The replica runs in its own process
 * group and every signal goes to the whole group, so the app gets SIGTERM itself. The trap keeps
 * the shell alive until the command it waits for has ended (a shell runs a trap only after its
 * foreground command): the group's leader exits last, so a restart waits for the old app to
 * finish, the watchdog keeps watching the group while the app drains, and the app is never
 * orphaned to a PID 1 that may not collect it. The command goes on a line of its own, so the
 * shell parses it as the user typed it.
 *
 * Before anything of the user's runs, the shell reads one line from its stdin, which AppProcess
 * writes once the watchdog has been told of the new group (`gated`): a supervisor killed in
 * between leaves the shell an end of file, and it exits without starting the app that nobody
 * would be left to stop.
 */
export function shellCommand(command: string): string[] {
  return ['/bin/sh', '-c', `read -r _ || exit 1\ntrap 'exit 143' TERM\n${command}`];
}

/** Starts on a fresh port after the one given was taken by another process (port-owner.ts). */
const portAttempts = 3;

/** Whether an app's output says it could not listen because its port was taken. */
export function listenFailed(output: string): boolean {
  return /EADDRINUSE|address already in use/i.test(output);
}

/** The port that answered was held by another process, not the app (port-owner.ts). */
export class PortTakenError extends SystemError {
  constructor(name: string, port: number) {
    super(
      'UNPINNED_ERR_APP_START',
      `${name}: its port answered, but another process listens on it (port ${port}, ${portAttempts} ports in a row). Is something on this machine taking ports as they come free?`,
    );
  }
}

export type AppState = 'starting' | 'up' | 'draining' | 'stopping' | 'down';

export interface AppSpec {
  name: string;
  /** argv of the server; PORT, SERVER_NAME and `env` are added to its environment. */
  command: readonly string[];
  env: Record<string, string>;
  healthPath: string;
  /** 'ok' (default): ready when `healthPath` answers 2xx; 'answers': when it answers at all. */
  readyWhen?: 'ok' | 'answers';
  /** Working directory of the process (default: this process's). */
  cwd?: string;
  /** The command waits for a line on stdin before it starts (shellCommand's gate). */
  gated?: boolean;
  startTimeoutMs: number;
  stopTimeoutMs: number;
  /**
   * When given, the server runs in its own process group, signalled as a whole (an app's own
   * children go with it), and the watchdog ends that group if the supervisor dies first.
   */
  watchdog?: Watchdog;
  /**
   * Called when the process ends on its own while it serves (up or draining): a crash, not a stop
   * or a kill that was asked for, nor a failed start (which `start()` reports itself).
   */
  onCrash?(exit: { code: number | null; signal: NodeJS.Signals | null }): void;
}

export class AppProcess {
  readonly name: string;
  state: AppState = 'starting';
  port = 0;
  #spec: AppSpec;
  #child: ChildProcess | null = null;
  #exited: Promise<void> = Promise.resolve();
  #log: string[] = [];
  #killed = false;
  #servingPid: number | undefined;

  constructor(spec: AppSpec) {
    this.name = spec.name;
    this.#spec = spec;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /**
   * The process that holds the listening socket, once ready: the app itself when the command is
   * a shell or `npm` that started it. `pid` where /proc cannot tell.
   */
  get servingPid(): number | undefined {
    return this.#servingPid ?? this.pid;
  }

  /** The end of what the process wrote to stdout and stderr (for error messages). */
  get output(): string {
    return this.#log.join('');
  }

  /** How the process ended, or null while it runs (or before it started). */
  get exit(): { code: number | null; signal: NodeJS.Signals | null } | null {
    const child = this.#child;
    if (!child || (child.exitCode === null && child.signalCode === null)) return null;
    return { code: child.exitCode, signal: child.signalCode };
  }

  /**
   * Start and wait until the health check answers 2xx. A port that another process took between
   * `freePort()` and the app's own listen (port-owner.ts) is not the app's failure: the app is
   * started again on another port, a few times, before the start counts as failed.
   */
  async start(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#startOnce();
      } catch (error) {
        // EADDRINUSE on the port it was given: someone else took it first, or the app listens on
        // a port of its own choosing; a few attempts on other ports tell the two apart.
        const taken = error instanceof PortTakenError || listenFailed(this.output);
        if (!taken || attempt >= portAttempts) throw error;
      }
    }
  }

  async #startOnce(): Promise<void> {
    this.#log = [];
    this.#servingPid = undefined;
    this.port = await freePort();
    const [file, ...args] = this.#spec.command;
    const child = spawn(file!, args, {
      env: { ...process.env, ...this.#spec.env, PORT: String(this.port), SERVER_NAME: this.name },
      ...(this.#spec.cwd ? { cwd: this.#spec.cwd } : {}),
      stdio: [this.#spec.gated ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      detached: this.#spec.watchdog !== undefined,
    });
    this.#spec.watchdog?.adopt(child);
    if (this.#spec.gated) {
      // The watchdog knows the group now: let the command start. Its stdin is then at its end,
      // as /dev/null would be. A child already gone makes the write fail, which is not an error.
      child.stdin!.on('error', () => {});
      child.stdin!.end('\n');
    }
    this.#child = child;
    this.state = 'starting';
    const keep = (chunk: Buffer) => {
      this.#log.push(chunk.toString());
      if (this.#log.length > 50) this.#log.shift();
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    this.#exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        const crashed = (this.state === 'up' || this.state === 'draining') && !this.#killed;
        this.state = 'down';
        if (crashed) this.#spec.onCrash?.({ code, signal });
        resolve();
      }),
    );
    await this.#waitHealthy(child);
    const owner: ReturnType<typeof portOwner> =
      child.pid === undefined ? { owned: 'unknown' } : portOwner(child.pid, this.port);
    if (owner.owned === 'no') {
      // What answered is another process on this port: the app never got it.
      this.#signal(child, 'SIGKILL');
      await this.#exited;
      throw new PortTakenError(this.name, this.port);
    }
    this.#servingPid = owner.pid;
    this.state = 'up';
  }

  async #waitHealthy(child: ChildProcess): Promise<void> {
    const deadline = Date.now() + this.#spec.startTimeoutMs;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new SystemError(
          'UNPINNED_ERR_APP_START',
          `${this.name} exited while starting:\n${this.#log.join('')}`,
        );
      }
      try {
        const res = await fetch(`${this.url}${this.#spec.healthPath}`, { signal: AbortSignal.timeout(1000) });
        await res.body?.cancel();
        if (res.ok || this.#spec.readyWhen === 'answers') return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        this.#signal(child, 'SIGKILL');
        throw new SystemError(
          'UNPINNED_ERR_APP_START',
          `${this.name} did not answer ${this.#spec.healthPath} within ${this.#spec.startTimeoutMs} ms:\n${this.#log.join('')}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /**
   * Graceful stop (SIGTERM: finish in-flight requests), SIGKILL after the stop timeout. With a
   * process group, it resolves when every process of the group has ended, not only the one
   * started: a shell's or npm's child that outlives them would still hold memory, files and ports.
   */
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.state = 'stopping';
    this.#signal(child, 'SIGTERM');
    const timer = setTimeout(() => this.#signal(child, 'SIGKILL'), this.#spec.stopTimeoutMs);
    await this.#exited;
    await this.#groupEnded(child);
    clearTimeout(timer);
  }

  /** A crash: SIGKILL, no goodbye. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.#killed = true;
    this.#signal(child, 'SIGKILL');
    await this.#exited;
    await this.#groupEnded(child);
  }

  /** Waits for the rest of the group; the SIGKILL already sent, or the stop's timer, ends it. */
  async #groupEnded(child: ChildProcess): Promise<void> {
    if (!this.#spec.watchdog || child.pid === undefined) return;
    // Past the deadline a member is stuck in the kernel (D state): not worth hanging the stop for.
    const deadline = Date.now() + this.#spec.stopTimeoutMs + 1000;
    while (groupRunning(child.pid) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  #signal(child: ChildProcess, signal: NodeJS.Signals): void {
    if (this.#spec.watchdog && child.pid !== undefined) killGroup(child.pid, signal);
    else child.kill(signal);
  }
}
