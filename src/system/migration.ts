/**
 * The state of a move off sticky sessions (`unpinned migrate`, DESIGN §11) as the supervisor
 * drives it: which old servers are still retiring, how many sessions each still holds, when the
 * cap comes, and how each one left. The balancer does the routing and the counting (legacy
 * affinity); this only follows it for `status`, the CLI's progress and the dashboard.
 */
import type { Balancer, RetireResult } from '../balancer/index.js';
import { SystemError } from './errors.js';

export interface MigrationOptions {
  /** Retire an old server this long after the start, whatever its sessions (default 24 h). */
  capMs?: number | null;
  /** A legacy session not seen this long has ended: the old app's idle timeout (default 30 min). */
  idleMs?: number;
}

export interface MigratingServer {
  name: string;
  state: 'retiring' | 'retired';
  /** Live sessions still bound to it (0 once retired). */
  sessions: number;
  /** How it left, once retired: its sessions ended, or the cap. */
  reason?: RetireResult['reason'];
  forcedOut?: number;
}

export interface MigrationStatus {
  state: 'migrating' | 'done';
  startedAt: string;
  capMs: number | null;
  idleMs: number;
  /** Milliseconds until the cap retires what is left; null without a cap or once done. */
  capInMs: number | null;
  servers: MigratingServer[];
  /** Sessions forced out at the cap, over every old server. */
  forcedOut: number;
}

export class Migration {
  readonly capMs: number | null;
  readonly idleMs: number;
  readonly finished: Promise<void>;
  done = false;
  #started = Date.now();
  /** `performance.now()` when the old servers were marked retiring, for in-process readers. */
  beganAt: number | null = null;
  readonly #names: string[];
  readonly #results = new Map<string, RetireResult>();
  #finish!: () => void;

  constructor(options: MigrationOptions, names: string[]) {
    this.capMs = options.capMs === undefined ? 86_400_000 : options.capMs;
    this.idleMs = options.idleMs ?? 1_800_000;
    if (this.capMs !== null) whole('cap', this.capMs);
    whole('idle', this.idleMs);
    this.#names = names;
    this.finished = new Promise((resolve) => {
      this.#finish = resolve;
    });
  }

  /** The old servers are marked retiring now: the cap counts from here. */
  begin(): void {
    this.#started = Date.now();
    this.beganAt = performance.now();
  }

  /** Follows one old server's retirement; the migration is done when every one is. */
  track(name: string, retired: Promise<RetireResult>): void {
    void retired.then((result) => {
      this.#results.set(name, result);
      if (this.#results.size === this.#names.length) {
        this.done = true;
        this.#finish();
      }
    });
  }

  status(balancer: Balancer): MigrationStatus {
    const live = new Map(balancer.legacy().retiring.map((r) => [r.id, r]));
    const servers = this.#names.map((name): MigratingServer => {
      const result = this.#results.get(name);
      if (result)
        return { name, state: 'retired', sessions: 0, reason: result.reason, forcedOut: result.forcedOut };
      return { name, state: 'retiring', sessions: live.get(name)?.sessions ?? 0 };
    });
    const elapsed = Date.now() - this.#started;
    return {
      state: this.done ? 'done' : 'migrating',
      startedAt: new Date(this.#started).toISOString(),
      capMs: this.capMs,
      idleMs: this.idleMs,
      capInMs: this.done || this.capMs === null ? null : Math.max(0, this.capMs - elapsed),
      servers,
      forcedOut: servers.reduce((n, s) => n + (s.forcedOut ?? 0), 0),
    };
  }
}

function whole(name: string, ms: number): void {
  if (!Number.isInteger(ms) || ms < 0)
    throw new SystemError(
      'UNPINNED_ERR_INVALID_OPTION',
      `--${name} must be a whole number of seconds >= 0.`,
      {
        statusCode: 400,
      },
    );
}
