/**
 * The base that owns membership and state: which servers exist, which may take a balanced pick,
 * passive ejection and the guards around it. Strategies only ever see the candidate list built
 * here, so the rules below hold whatever strategy runs.
 *
 * Two guards keep a partial outage from taking everything down, as Envoy does:
 * - passive ejection never ejects more than `maxEjectionPercent` of the servers, and never the
 *   last one (https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/outlier);
 * - below `panicThresholdPercent` available servers, picks ignore health and go to every
 *   non-draining server, so a flapping health check cannot concentrate all load on the few
 *   survivors (https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/load_balancing/panic_threshold).
 *   Except servers whose last connection attempt was refused or timed out (`unreachable`): a
 *   health check can be wrong about an app, but not about a port where nothing listens, and
 *   sending picks there only fails them (two of three servers killed: under round-robin a
 *   quarter of all requests was answered 502 once retries ran out of budget). Unless every
 *   server is unreachable: then panic goes to all of them, as before.
 */
import type { Backend } from './backend.js';
import type { Clock } from './clock.js';
import { balancerError } from './errors.js';

export interface MemberSettings {
  panicThresholdPercent: number;
  maxEjectionPercent: number;
  /** Consecutive failures that eject a server; 0 disables passive ejection. */
  ejectAfterFailures: number;
  ejectionCooldownMs: number;
}

export interface MemberEvents {
  onStateChange(backend: Backend, reason: string): void;
}

export class Members {
  readonly #clock: Clock;
  readonly #settings: MemberSettings;
  readonly #events: MemberEvents;
  #list: Backend[] = [];
  #nextSeq = 0;
  // Candidate cache: rebuilt when membership or state changes, or when an ejection expires.
  #cache: Backend[] = [];
  #cacheValid = false;
  #cacheExpiresAt = Number.POSITIVE_INFINITY;
  #panic = false;

  constructor(clock: Clock, settings: MemberSettings, events: MemberEvents) {
    this.#clock = clock;
    this.#settings = settings;
    this.#events = events;
  }

  all(): readonly Backend[] {
    return this.#list;
  }

  /** Insertion order, used by ring-ordered strategies (round-robin, least-connections ties). */
  seqOf(backend: Backend): number {
    return backend.seq;
  }

  find(idOrUrl: string): Backend | undefined {
    return this.#list.find((b) => b.id === idOrUrl || b.url === idOrUrl || b.url === stripSlash(idOrUrl));
  }

  get(idOrUrl: string): Backend {
    const backend = this.find(idOrUrl);
    if (!backend) throw balancerError('UNPINNED_ERR_LB_UNKNOWN_BACKEND', `Unknown server "${idOrUrl}"`);
    return backend;
  }

  add(backend: Backend): void {
    if (this.#list.some((b) => b.id === backend.id || b.url === backend.url)) {
      throw balancerError(
        'UNPINNED_ERR_LB_DUPLICATE_BACKEND',
        `Server "${backend.id}" is already configured`,
      );
    }
    backend.seq = this.#nextSeq++;
    this.#list = [...this.#list, backend];
    this.invalidate();
  }

  remove(backend: Backend): void {
    this.#list = this.#list.filter((b) => b !== backend);
    this.invalidate();
  }

  setDraining(backend: Backend, draining: boolean): void {
    if (backend.draining === draining) return;
    backend.draining = draining;
    this.invalidate();
    this.#events.onStateChange(backend, draining ? 'drain' : 'undrain');
  }

  setHealthy(backend: Backend, healthy: boolean): void {
    if (backend.healthy === healthy) return;
    backend.healthy = healthy;
    if (healthy) backend.consecutiveFailures = 0;
    this.invalidate();
    this.#events.onStateChange(backend, healthy ? 'health-check-up' : 'health-check-down');
  }

  /** Whether the last connection attempt to `backend` reached it (see `Backend.unreachable`). */
  setReachable(backend: Backend, reachable: boolean): void {
    if (backend.unreachable === !reachable) return;
    backend.unreachable = !reachable;
    this.invalidate();
  }

  invalidate(): void {
    this.#cacheValid = false;
  }

  /** True when the last candidate list was built in panic mode. */
  get panic(): boolean {
    return this.#panic;
  }

  /** Servers that may take a balanced pick now. Cached: this runs on every request. */
  candidates(): readonly Backend[] {
    const now = this.#clock.now();
    if (this.#cacheValid && now < this.#cacheExpiresAt) return this.#cache;
    this.#rebuild(now);
    return this.#cache;
  }

  #rebuild(now: number): void {
    const serving = this.#list.filter((b) => !b.draining && !b.retiring);
    const available = serving.filter((b) => b.isAvailable(now));
    const threshold = this.#settings.panicThresholdPercent;
    this.#panic = serving.length > 0 && (available.length * 100) / serving.length < threshold;
    if (this.#panic) {
      const reachable = serving.filter((b) => !b.unreachable);
      this.#cache = reachable.length > 0 ? reachable : serving;
    } else this.#cache = available;
    let expiresAt = Number.POSITIVE_INFINITY;
    for (const b of this.#list) if (b.ejectedUntil > now) expiresAt = Math.min(expiresAt, b.ejectedUntil);
    this.#cacheExpiresAt = expiresAt;
    this.#cacheValid = true;
  }

  /** A request to `backend` succeeded at the transport level with a non-5xx-gateway status. */
  recordSuccess(backend: Backend): void {
    backend.consecutiveFailures = 0;
  }

  /** A request to `backend` failed; ejects it after enough consecutive failures, within the guard. */
  recordFailure(backend: Backend): boolean {
    backend.failures++;
    backend.consecutiveFailures++;
    const { ejectAfterFailures, ejectionCooldownMs } = this.#settings;
    if (ejectAfterFailures <= 0 || backend.consecutiveFailures < ejectAfterFailures) return false;
    const now = this.#clock.now();
    if (backend.isEjected(now) || !this.#mayEject(now)) return false;
    backend.ejectedUntil = now + ejectionCooldownMs;
    backend.consecutiveFailures = 0;
    backend.ejections++;
    this.invalidate();
    this.#events.onStateChange(backend, 'ejected');
    return true;
  }

  #mayEject(now: number): boolean {
    const n = this.#list.length;
    const ejected = this.#list.filter((b) => b.isEjected(now)).length;
    const allowed = Math.min(n - 1, Math.max(1, Math.floor((this.#settings.maxEjectionPercent * n) / 100)));
    return ejected < allowed;
  }
}

function stripSlash(value: string): string {
  return value.endsWith('/') ? value.slice(0, -1) : value;
}
