/**
 * The supervisor's metrics (docs/observability.md): what a rolling deploy, a scale or a crash
 * did, read when scraped. Counters are plain numbers bumped by the supervisor's operations.
 */
import { MetricSet } from '../observe/metric-set.js';

export interface SystemView {
  servers(): readonly { state: string }[];
  storeUp(): boolean;
}

const states = ['starting', 'up', 'draining', 'stopping', 'down'];

export class SystemMetrics {
  deploySteps = 0;
  deploys = 0;
  serversStarted = 0;
  serversStopped = 0;
  kills = 0;
  storeRestarts = 0;
  readonly #set = new MetricSet('unpinned.system');

  constructor(view: SystemView) {
    const set = this.#set;
    set.gauge(
      'unpinned_system_servers',
      'App servers by state.',
      () => {
        const counts = new Map(states.map((s) => [s, 0]));
        for (const s of view.servers()) counts.set(s.state, (counts.get(s.state) ?? 0) + 1);
        return [...counts].map(([state, n]) => [{ state }, n] as const);
      },
      ['state'],
    );
    set.gauge('unpinned_system_store_up', '1 while the session store process runs, else 0.', () =>
      view.storeUp() ? 1 : 0,
    );
    set.counter('unpinned_system_deploys_total', 'Rolling deploys finished.', () => this.deploys);
    set.counter(
      'unpinned_system_deploy_steps_total',
      'Servers replaced by rolling deploys (drain, stop, start, healthy).',
      () => this.deploySteps,
    );
    set.counter('unpinned_system_servers_started_total', 'App servers started.', () => this.serversStarted);
    set.counter(
      'unpinned_system_servers_stopped_total',
      'App servers stopped after a drain.',
      () => this.serversStopped,
    );
    set.counter('unpinned_system_kills_total', 'App servers killed (SIGKILL).', () => this.kills);
    set.counter('unpinned_system_store_restarts_total', 'Store restarts.', () => this.storeRestarts);
  }

  register(registry: Parameters<MetricSet['register']>[0]): void {
    this.#set.register(registry);
  }

  text(): Promise<string> {
    return this.#set.text();
  }
}
