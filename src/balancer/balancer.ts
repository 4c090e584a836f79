/**
 * `createBalancer()`: wires the member base, a strategy, the proxy, health checks and the admin
 * API into one object with a small run-time API, for the CLI, the supervisor and the lab.
 */
import { EventEmitter, once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { type Logger, silentLogger } from '../observe/log.js';
import { startAdmin } from './admin.js';
import { Backend, type BackendSnapshot, type BackendSpec, type PoolSettings } from './backend.js';
import { type BalancerOptions, resolveSettings, type Settings } from './config.js';
import type { Core } from './core.js';
import { ClientSide } from './downstream.js';
import { invalidOption } from './errors.js';
import { publish, stateChannel } from './events.js';
import { TrustedProxies } from './headers.js';
import { HealthChecker } from './health.js';
import { LegacyAffinity, type LegacySnapshot, type RetireResult } from './legacy.js';
import { endSpread } from './long-lived.js';
import { Members } from './members.js';
import { Metrics } from './metrics.js';
import { NodeSide } from './node-side.js';
import { proxyRequest } from './proxy.js';
import { RetryPolicy } from './retry.js';
import { createStrategy, type StrategyName } from './strategies/index.js';
import { relayUpgrade } from './upgrade.js';

/** Base of the SSE reconnect hint (`retry:`) a drained event stream ends with; each gets 0.5-1.5x. */
const DRAIN_RETRY_MS = 1000;

/** Payload of the `state` event and the `unpinned:balancer:state` channel. */
export interface StateEvent {
  id: string;
  url: string;
  state: BackendSnapshot['state'];
  reason: string;
}

/**
 * A running (or ready to run) load balancer.
 *
 * @example
 * const lb = createBalancer({ backends: ['http://127.0.0.1:3001', 'http://127.0.0.1:3002'], strategy: 'p2c' });
 * await lb.listen(8080, '127.0.0.1');
 * lb.on('state', (e) => console.log(e.id, e.state));
 * await lb.drain('127.0.0.1:3001'); // resolves once its in-flight requests are done
 * await lb.close();
 */
export class Balancer extends EventEmitter {
  readonly server: Server;
  readonly #core: Core;
  readonly #settings: Settings;
  readonly #poolSettings: PoolSettings;
  readonly #health: HealthChecker | undefined;
  #clientSide!: ClientSide;
  readonly #idleWaiters = new Map<Backend, (() => void)[]>();
  #admin: Server | undefined;
  #closing: Promise<void> | undefined;
  readonly #logger: Logger;

  constructor(options: BalancerOptions) {
    super();
    const settings = resolveSettings(options);
    this.#settings = settings;
    this.#logger = options.logger ?? silentLogger;
    const t = settings.timeouts;
    this.#poolSettings = {
      connections: settings.connectionsPerBackend,
      connectTimeoutMs: t.connectMs,
      headersTimeoutMs: t.headersMs,
      idleTimeoutMs: t.idleMs,
      keepAliveTimeoutMs: t.upstreamKeepAliveMs,
      maxResponseHeaderBytes: Math.max(settings.maxHeaderBytes, 16_384),
    };
    const members = new Members(
      settings.clock,
      {
        panicThresholdPercent: settings.panicThresholdPercent,
        maxEjectionPercent: settings.maxEjectionPercent,
        ejectAfterFailures: settings.consecutiveFailures,
        ejectionCooldownMs: settings.cooldownMs,
      },
      { onStateChange: (b, reason) => this.#onState(b, reason) },
    );
    const strategy = createStrategy(settings.strategy, settings);
    const legacy = new LegacyAffinity(settings.legacy, settings.clock, (result) =>
      this.emit('retired', result),
    );
    this.#core = {
      legacy,
      settings,
      members,
      metrics: new Metrics(
        () => members.all(),
        () => settings.clock.now(),
        legacy,
      ),
      retry: new RetryPolicy(settings.retry),
      strategy,
      forwarding: {
        trusted: new TrustedProxies(settings.trustedProxies),
        forwardedHeaders: settings.forwardedHeaders,
        proto: 'http',
        stripCookie: strategy.stripCookie,
      },
      closing: false,
      tunnels: new Set(),
      active: 0,
      onIdle: undefined,
      handToNode: () => {}, // set once the server exists (#createServer)
      seqOf: (b) => b.seq,
    };
    this.#health = settings.healthCheck && new HealthChecker(members, settings.healthCheck, settings.clock);
    this.server = this.#createServer();
    for (const spec of settings.backends) this.addBackend(spec);
  }

  #createServer(): Server {
    const s = this.#settings;
    const t = s.timeouts;
    const nodeSide = new NodeSide(t.clientBodyMs);
    const server = createServer(
      {
        maxHeaderSize: s.maxHeaderBytes,
        // Host is checked in the proxy (not by Node) so that its 400 carries our error code.
        requireHostHeader: false,
        headersTimeout: t.clientHeadersMs,
        requestTimeout: t.clientRequestMs,
        // Node enforces both timeouts on this sweep (30 s by default): a slow head would live
        // up to that much past its deadline.
        connectionsCheckingInterval: Math.min(1_000, t.clientHeadersMs),
      },
      (req, res) => {
        if (nodeSide.admit(req, res)) proxyRequest(this.#core, req, res);
      },
    );
    server.keepAliveTimeout = t.clientKeepAliveMs;
    // Excess connections are closed as they arrive (HAProxy's maxconn queues them instead;
    // Node offers no way to leave them in the backlog), and counted.
    if (s.maxConnections !== null) server.maxConnections = s.maxConnections;
    server.on('drop', () => this.#core.metrics.connectionsDropped++);
    // A socket with no traffic for the shorter of the two: node-side.ts decides what it means.
    const stallMs = Math.min(t.clientSendMs, t.clientBodyMs);
    server.timeout = stallMs;
    server.on('timeout', (socket: Socket) => nodeSide.onStall(socket));
    // One field more than the limit is kept, so that an excess is seen (request-head.ts).
    server.maxHeadersCount = s.maxHeaderCount + 1;
    // Every accepted socket goes to the client side's own reader first (downstream.ts); it gives
    // the connections it does not serve to Node's server, whose 'connection' listener this is.
    const nodeConnectionListener = server.listeners('connection')[0] as (socket: Socket) => void;
    server.removeAllListeners('connection');
    this.#core.handToNode = (socket, bytes) => {
      nodeConnectionListener.call(server, socket);
      // Node's 'data' listener is attached now: these bytes reach its parser before any new read.
      if (bytes && bytes.length > 0) socket.unshift(bytes);
      if (socket.isPaused()) socket.resume();
    };
    this.#clientSide = new ClientSide(this.#core, {
      maxHeaderBytes: s.maxHeaderBytes,
      maxHeaderCount: s.maxHeaderCount,
      keepAliveMs: t.clientKeepAliveMs,
      headersMs: t.clientHeadersMs,
      stallMs,
    });
    server.on('connection', (socket: Socket) => {
      const metrics = this.#core.metrics;
      metrics.clientConnections++;
      socket.once('close', () => metrics.clientConnections--);
      this.#clientSide.accept(socket);
    });
    server.on('upgrade', (req, socket, head) => relayUpgrade(this.#core, req, socket, head));
    // Malformed requests are refused by Node's strict parser before any handler runs, and
    // answered here after whatever ran before them on the connection (node-side.ts).
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => nodeSide.handle(err, socket));
    return server;
  }

  /** Starts accepting clients (and the admin API when configured). Resolves with the bound address. */
  async listen(port = 0, host = '127.0.0.1'): Promise<AddressInfo> {
    this.server.listen(port, host);
    await once(this.server, 'listening');
    const admin = this.#settings.admin;
    if (admin) this.#admin = await startAdmin(this, admin);
    return this.server.address() as AddressInfo;
  }

  /** Address of the admin API, when it runs. */
  adminAddress(): AddressInfo | undefined {
    return (this.#admin?.address() as AddressInfo | null) ?? undefined;
  }

  get strategy(): StrategyName {
    return this.#core.strategy.name;
  }

  /** Switches strategy at run time; requests in flight are unaffected. */
  setStrategy(name: string): void {
    const strategy = createStrategy(name, this.#settings);
    this.#core.strategy = strategy;
    this.#core.forwarding = { ...this.#core.forwarding, stripCookie: strategy.stripCookie };
  }

  /** Snapshot of every server: url, state, counters. */
  backends(): BackendSnapshot[] {
    const now = this.#settings.clock.now();
    const legacy = this.#core.legacy;
    return this.#core.members.all().map((b) => b.snapshot(now, legacy.sessionsOf(b)));
  }

  /**
   * Marks a server **retiring** (legacy.ts): it takes only the requests of the legacy sessions
   * bound to it, never a new session, and is removed once none is left (or at the cap). The
   * promise resolves once it is removed. Throws `UNPINNED_ERR_LB_UNKNOWN_BACKEND` synchronously.
   *
   * @example
   * const lb = createBalancer({ backends, legacy: { cookie: 'connect.sid', idleMs: 30 * 60_000 } });
   * const { forcedOut } = await lb.retire('old-1', { retireAfterMs: 4 * 3600_000 });
   */
  retire(id: string, options: { retireAfterMs?: number | null } = {}): Promise<RetireResult> {
    const backend = this.#core.members.get(id);
    const cap =
      options.retireAfterMs === undefined ? this.#settings.legacy.retireAfterMs : options.retireAfterMs;
    if (cap !== null && !(Number.isInteger(cap) && cap >= 0))
      throw invalidOption('retireAfterMs', 'an integer >= 0 (milliseconds) or null', cap);
    const done = this.#core.legacy.retire(backend, cap).then(async (result) => {
      // Its last session ended, or the cap came: drain it (in-flight requests finish), remove it.
      if (result.reason !== 'removed' && this.#core.members.all().includes(backend)) {
        this.#core.members.setDraining(backend, true);
        await this.removeBackend(backend.id);
      }
      return result;
    });
    this.#core.members.invalidate();
    this.#onState(backend, 'retiring');
    return done;
  }

  /**
   * Changes the legacy-affinity options (`legacy` of `createBalancer()`) while no server is
   * retiring, e.g. the idle window of the old app a migration is about to retire.
   */
  configureLegacy(options: NonNullable<BalancerOptions['legacy']>): void {
    this.#core.legacy.configure(resolveSettings({ ...this.#settings, legacy: options }).legacy);
  }

  /** Legacy affinity now: the learned table, each retiring server's sessions, retirements so far. */
  legacy(): LegacySnapshot {
    return this.#core.legacy.snapshot();
  }

  addBackend(spec: string | BackendSpec): BackendSnapshot {
    const backend = new Backend(typeof spec === 'string' ? { url: spec } : spec, this.#poolSettings);
    this.#core.members.add(backend);
    backend.onIdle = () => this.#wakeIdle(backend);
    this.#health?.watch(backend);
    this.#onState(backend, 'added');
    return backend.snapshot(this.#settings.clock.now());
  }

  /**
   * Removes a server at once from balancing; the promise resolves when its in-flight requests
   * are done and its pool is closed. Throws `UNPINNED_ERR_LB_UNKNOWN_BACKEND` synchronously.
   */
  removeBackend(id: string): Promise<void> {
    const backend = this.#core.members.get(id);
    this.#core.legacy.forget(backend);
    this.#core.members.remove(backend);
    this.#health?.unwatch(backend);
    this.#onState(backend, 'removed');
    return this.#idle(backend).then(() => backend.pool.close());
  }

  /**
   * No new balanced picks for the server; the promise resolves when its in-flight requests are
   * done. Its long-lived connections (WebSocket tunnels, event streams) get until `deadlineMs`
   * (default `timeouts.drainLongLivedMs`), then are ended gracefully over `windowMs` (default
   * `timeouts.drainWindowMs`): WebSocket close 1012, SSE `retry:` and end of stream
   * (long-lived.ts). Throws `UNPINNED_ERR_LB_UNKNOWN_BACKEND` synchronously.
   */
  drain(id: string, options: { deadlineMs?: number; windowMs?: number } = {}): Promise<void> {
    const backend = this.#core.members.get(id);
    this.#core.members.setDraining(backend, true);
    const t = this.#settings.timeouts;
    const idle = this.#idle(backend);
    const timer = setTimeout(() => {
      // Undrained meanwhile: its connections may stay.
      if (backend.draining)
        void endSpread(backend.longLived, options.windowMs ?? t.drainWindowMs, DRAIN_RETRY_MS);
    }, options.deadlineMs ?? t.drainLongLivedMs);
    timer.unref();
    return idle.finally(() => clearTimeout(timer));
  }

  undrain(id: string): void {
    this.#core.members.setDraining(this.#core.members.get(id), false);
  }

  /** Runs one active health check of every server now (no-op without health checks). */
  async checkHealth(): Promise<void> {
    const health = this.#health;
    if (health) await Promise.all(this.#core.members.all().map((b) => health.check(b)));
  }

  /** Prometheus exposition text (prom-client's), as served on the admin API's `/metrics`. */
  metrics(): Promise<string> {
    return this.#core.metrics.text();
  }

  /**
   * Adds the balancer's metrics to an app's own prom-client `Registry`, so one `/metrics`
   * serves both.
   * @example
   * import { Registry } from 'prom-client';
   * const registry = new Registry();
   * lb.registerMetrics(registry);
   */
  registerMetrics(registry: { registerMetric(metric: never): void }): void {
    this.#core.metrics.register(registry as never);
  }

  /**
   * Graceful shutdown: stop accepting, answer new requests on open connections with 503, let
   * requests in flight finish (closing their keep-alive connections), then close everything.
   * After `timeouts.shutdownMs`, remaining connections are cut.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const core = this.#core;
    core.closing = true;
    this.#health?.stop();
    core.legacy.close();
    const serverClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    this.#clientSide.closeIdle();
    const adminClosed = this.#admin && new Promise<void>((resolve) => this.#admin!.close(() => resolve()));
    this.#admin?.closeAllConnections();
    // Long-lived connections would only be cut at the end of shutdownMs (clients see 1006 and no
    // hint): they are ended gracefully now, spread over at most half of it.
    const window = Math.min(this.#settings.timeouts.drainWindowMs, this.#settings.timeouts.shutdownMs / 2);
    for (const backend of core.members.all()) void endSpread(backend.longLived, window, DRAIN_RETRY_MS);
    if (core.active > 0) {
      const idle = new Promise<void>((resolve) => {
        core.onIdle = resolve;
      });
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.#settings.timeouts.shutdownMs);
      });
      await Promise.race([idle, deadline]);
      clearTimeout(timer);
    }
    this.server.closeAllConnections();
    this.#clientSide.destroyAll();
    for (const tunnel of core.tunnels) tunnel.destroy(); // upgraded sockets left the server
    await Promise.all([serverClosed, adminClosed]);
    await Promise.all(core.members.all().map((b) => b.pool.destroy()));
  }

  #idle(backend: Backend): Promise<void> {
    if (backend.inFlight === 0 && backend.tunnels === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const waiters = this.#idleWaiters.get(backend) ?? [];
      waiters.push(resolve);
      this.#idleWaiters.set(backend, waiters);
    });
  }

  #wakeIdle(backend: Backend): void {
    const waiters = this.#idleWaiters.get(backend);
    if (!waiters) return;
    this.#idleWaiters.delete(backend);
    for (const wake of waiters) wake();
  }

  #onState(backend: Backend, reason: string): void {
    const event: StateEvent = {
      id: backend.id,
      url: backend.url,
      state: backend.state(this.#settings.clock.now()),
      reason,
    };
    publish(stateChannel, () => event);
    this.emit('state', event);
    logState(this.#logger, event);
  }
}

/** One clear line per server change: ejections warn, the rest inform. */
function logState(logger: Logger, e: StateEvent): void {
  const fields = { server: e.id, url: e.url, state: e.state, reason: e.reason };
  if (e.state === 'ejected') logger.warn(fields, `server ${e.id} ejected`);
  else if (e.state === 'down') logger.warn(fields, `server ${e.id} down`);
  else if (e.reason === 'added' || e.reason === 'removed') logger.info(fields, `server ${e.id} ${e.reason}`);
  else logger.info(fields, `server ${e.id} ${e.state}`);
}

/**
 * Creates a load balancer. Nothing listens until `listen()`.
 *
 * @example
 * const lb = createBalancer({
 *   backends: ['http://127.0.0.1:3001', 'http://127.0.0.1:3002'],
 *   strategy: 'least-connections',
 *   healthCheck: { path: '/health', intervalMs: 2000, rise: 2, fall: 3 },
 *   admin: { port: 9090 },
 * });
 * await lb.listen(8080);
 */
export function createBalancer(options: BalancerOptions): Balancer {
  return new Balancer(options);
}
