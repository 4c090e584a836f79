/**
 * Active health checks: a GET on a path of every server at an interval, with HAProxy's rise/fall
 * hysteresis (https://docs.haproxy.org/2.8/configuration.html#5.2-rise): `fall` consecutive
 * failures take a server down, `rise` consecutive passes bring it back, so one slow check does
 * not flap the pool. 2xx and 3xx pass (HAProxy `option httpchk`). Scheduling goes through the
 * injected clock, so tests advance time instead of waiting for it.
 */
import type { Backend } from './backend.js';
import type { Clock, TimerHandle } from './clock.js';
import type { Settings } from './config.js';
import type { Members } from './members.js';

interface CheckState {
  passes: number;
  fails: number;
  timer: TimerHandle | undefined;
  running: Promise<void> | undefined;
}

export class HealthChecker {
  readonly #members: Members;
  readonly #config: NonNullable<Settings['healthCheck']>;
  readonly #clock: Clock;
  readonly #states = new Map<Backend, CheckState>();
  #stopped = false;

  constructor(members: Members, config: NonNullable<Settings['healthCheck']>, clock: Clock) {
    this.#members = members;
    this.#config = config;
    this.#clock = clock;
  }

  /** Starts checking `backend`: one check now, then one every interval. */
  watch(backend: Backend): void {
    if (this.#stopped || this.#states.has(backend)) return;
    this.#states.set(backend, { passes: 0, fails: 0, timer: undefined, running: undefined });
    void this.check(backend);
  }

  unwatch(backend: Backend): void {
    const state = this.#states.get(backend);
    if (state?.timer !== undefined) this.#clock.clearTimeout(state.timer);
    this.#states.delete(backend);
  }

  stop(): void {
    this.#stopped = true;
    for (const backend of [...this.#states.keys()]) this.unwatch(backend);
  }

  /** Runs one check of `backend` now (and reschedules the next). */
  check(backend: Backend): Promise<void> {
    const state = this.#states.get(backend);
    if (!state) return Promise.resolve();
    if (state.timer !== undefined) this.#clock.clearTimeout(state.timer);
    state.timer = undefined;
    state.running ??= this.#probe(backend).then((ok) => {
      state.running = undefined;
      if (this.#states.get(backend) !== state) return;
      this.#record(backend, state, ok);
      state.timer = this.#clock.setTimeout(() => void this.check(backend), this.#config.intervalMs);
    });
    return state.running;
  }

  #record(backend: Backend, state: CheckState, ok: boolean): void {
    if (ok) {
      state.fails = 0;
      state.passes++;
      if (!backend.healthy && state.passes >= this.#config.rise) this.#members.setHealthy(backend, true);
    } else {
      state.passes = 0;
      state.fails++;
      if (backend.healthy && state.fails >= this.#config.fall) this.#members.setHealthy(backend, false);
    }
  }

  #probe(backend: Backend): Promise<boolean> {
    const { path, timeoutMs } = this.#config;
    return new Promise((resolve) => {
      let abort: ((err?: Error) => void) | undefined;
      let done = false;
      const end = (ok: boolean): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve(ok);
      };
      // A real timer, not the injected clock: it bounds a real socket.
      const timer = setTimeout(() => {
        abort?.();
        end(false);
      }, timeoutMs);
      let status = 0;
      backend.pool.dispatch(
        { method: 'GET', path, headers: ['user-agent', 'unpinned-health-check'], body: null },
        {
          onConnect: (a) => {
            abort = a;
            this.#members.setReachable(backend, true);
            if (done) a();
          },
          onHeaders: (code) => {
            status = code;
            return true;
          },
          onData: () => true,
          onComplete: () => end(status >= 200 && status < 400),
          onError: () => {
            // Failed before connecting: nothing listens there (see Backend.unreachable).
            if (abort === undefined) this.#members.setReachable(backend, false);
            end(false);
          },
        },
      );
    });
  }
}
