/**
 * The running system behind `unpinned up`: a session store, N app servers and
 * the balancer in front, on one machine, plus the operations people do to such
 * a system: rolling deploy, scale, crash a server, restart the store.
 *
 * It uses the balancer and the stores only through their public APIs, and the
 * app servers only through processes, ports and a health path, like any
 * deployment would.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getHeapStatistics } from 'node:v8';
import { type Balancer, createBalancer, type RetireResult, type StrategyName } from '../balancer/index.js';
import { type LogFields, type Logger, silentLogger } from '../observe/log.js';
import { AppProcess, type AppState } from './app-process.js';
import { portInUse, SystemError, unknownServer } from './errors.js';
import { SystemMetrics } from './metrics.js';
import { Migration, type MigrationOptions, type MigrationStatus } from './migration.js';
import { shopServerPath } from './paths.js';
import { findRedisServer, RedisServer } from './redis-server.js';
import { Watchdog } from './watchdog.js';

export interface SystemOptions {
  servers?: number;
  /** Balancer port (default 8080; 0 picks a free one). */
  port?: number;
  host?: string;
  /** The baseline: in-memory sessions in each app, sticky-cookie routing. */
  sticky?: boolean;
  strategy?: StrategyName;
  /** Use this Redis instead of starting one. */
  redisUrl?: string;
  /** Store to use when no Redis is given: 'auto' (a private redis-server if on PATH, else SQLite). */
  store?: 'auto' | 'redis' | 'sqlite';
  /** The user's own app server command (gets PORT, SERVER_NAME and the store in its environment). */
  app?: readonly string[];
  /** Modelled capacity of each shop server (the lab uses it). */
  capacity?: { maxConcurrent: number; serviceMs: number };
  healthPath?: string;
  /**
   * The session cookie of the app servers, which `migrate` learns on the old ones (default
   * `sid`, the shop's; `connect.sid` for an express-session app).
   */
  sessionCookie?: string;
  /** Where status lines for people go (default: nowhere). */
  log?: (line: string) => void;
  /**
   * Structured events (pino's shape, src/observe/log.ts): deploy, scale and migrate steps,
   * servers up, draining, retired, killed and crashed, the store down, restarting and up, and the
   * balancer's ejections and drains. Default: none.
   */
  logger?: Logger;
}

export interface ServerStatus {
  name: string;
  url: string;
  pid: number | undefined;
  state: AppState | 'retiring';
  /** Where this server keeps sessions: its own memory (the sticky baseline) or the shared store. */
  sessions: 'memory' | 'shared';
  /** While retiring: live sessions still bound to it. */
  legacySessions?: number;
  inFlight: number;
  /** Its open event streams and WebSocket connections through the balancer (live subscribers). */
  live: number;
  requests: number;
  failures: number;
}

export interface SystemStatus {
  balancer: { url: string; strategy: string };
  store: { kind: string; url: string | null; up: boolean; pid: number | null };
  /** Scratch directory of this system (removed on stop). */
  dir: string | null;
  sticky: boolean;
  /** The move off sticky sessions (`unpinned migrate`), once started; null before. */
  migration: MigrationStatus | null;
  servers: ServerStatus[];
  /** This process (the supervisor, with the balancer inside): for the dashboard and the soak. */
  process: { pid: number; rssBytes: number; heapUsedBytes: number };
}

type StoreKind =
  | { kind: 'redis'; url: string; server: RedisServer | null }
  | { kind: 'memory' }
  | { kind: 'sqlite'; path: string };

export class System {
  readonly #options: Required<Omit<SystemOptions, 'redisUrl' | 'app' | 'capacity' | 'strategy' | 'logger'>> &
    Pick<SystemOptions, 'redisUrl' | 'app' | 'capacity' | 'strategy'>;
  #store: StoreKind = { kind: 'memory' };
  #apps: AppProcess[] = [];
  /** App servers that keep sessions in their own memory (the sticky baseline's). */
  readonly #inMemory = new Set<AppProcess>();
  #migration: Migration | null = null;
  #balancer: Balancer | null = null;
  #balancerUrl = '';
  #next = 1;
  #dir: string | null = null;
  #watchdog: Watchdog | null = null;
  #paths = new Set<string>();
  /** One control operation at a time: a deploy and a scale must not interleave. */
  #queue: Promise<unknown> = Promise.resolve();
  readonly #logger: Logger;
  readonly #metrics = new SystemMetrics({
    servers: () => (this.#balancer ? this.status().servers : []),
    storeUp: () => (this.#balancer ? this.status().store.up : false),
  });

  constructor(options: SystemOptions = {}) {
    this.#logger = options.logger ?? silentLogger;
    this.#options = {
      servers: options.servers ?? 3,
      port: options.port ?? 8080,
      host: options.host ?? '127.0.0.1',
      sticky: options.sticky ?? false,
      store: options.store ?? 'auto',
      healthPath: options.healthPath ?? '/healthz',
      sessionCookie: options.sessionCookie ?? 'sid',
      log: options.log ?? (() => {}),
      redisUrl: options.redisUrl,
      app: options.app,
      capacity: options.capacity,
      strategy: options.strategy,
    };
    if (!Number.isInteger(this.#options.servers) || this.#options.servers < 1) {
      throw new SystemError(
        'UNPINNED_ERR_INVALID_OPTION',
        `servers must be an integer >= 1, got ${options.servers}.`,
      );
    }
  }

  get url(): string {
    return this.#balancerUrl;
  }

  /**
   * The store's address with its credentials, for in-process use only (the dashboard's probe).
   * `status()` shows it without the password.
   */
  get storeUrl(): string | null {
    const store = this.#store;
    return store.kind === 'redis' ? store.url : null;
  }

  /**
   * Adds the supervisor's metrics to an app's prom-client `Registry` (the balancer's are added
   * with `system.balancer.registerMetrics(registry)` once started).
   */
  registerMetrics(registry: { registerMetric(metric: never): void }): void {
    this.#metrics.register(registry as never);
  }

  get balancer(): Balancer {
    if (!this.#balancer) throw new SystemError('UNPINNED_ERR_NOT_RUNNING', 'The system is not running.');
    return this.#balancer;
  }

  /** The watchdog process that ends this system's processes if this one dies without stopping them. */
  get watchdogPid(): number | null {
    return this.#watchdog?.pid ?? null;
  }

  async start(): Promise<void> {
    this.#watchdog = Watchdog.start();
    this.#dir = mkdtempSync(join(tmpdir(), 'unpinned-up-'));
    this.#watchdog.keep(this.#dir);
    try {
      // The balancer's port first: a second system on a taken port fails before it starts anything.
      const strategy = this.#options.sticky ? 'sticky-cookie' : (this.#options.strategy ?? 'round-robin');
      this.#balancer = createBalancer({
        strategy,
        logger: this.#logger,
        healthCheck: { path: this.#options.healthPath, intervalMs: 1000, timeoutMs: 1000, rise: 1, fall: 2 },
        legacy: { cookie: this.#options.sessionCookie },
      });
      const address = await this.#balancer
        .listen(this.#options.port, this.#options.host)
        .catch((error: unknown) => {
          throw portInUse(error, this.#options.port, 'the balancer', '--port');
        });
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      this.#balancerUrl = `http://${host}:${address.port}`;
      this.#store = await this.#startStore();
      const apps = Array.from({ length: this.#options.servers }, () => this.#newApp());
      this.#apps = apps;
      // Settled, not all: a failed start must not leave the others starting after stop() ran.
      const started = await Promise.allSettled(apps.map((app) => app.start()));
      const failed = started.find((result) => result.status === 'rejected');
      if (failed) throw failed.reason;
      for (const app of apps) this.#balancer.addBackend({ id: app.name, url: app.url });
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  async #startStore(sticky = this.#options.sticky): Promise<StoreKind> {
    const { redisUrl, store } = this.#options;
    if (sticky) return { kind: 'memory' };
    if (redisUrl) return { kind: 'redis', url: redisUrl, server: null };
    if (store !== 'sqlite' && findRedisServer()) {
      // Persisted, so `restart-store` keeps everyone's sessions.
      const server = await RedisServer.start({
        persist: true,
        watchdog: this.#watchdog!,
        onCrash: (exit) => {
          // While stopping, stop() reports a store that had already ended, once.
          if (this.#balancer === null) return;
          this.#event(
            'error',
            { store: 'redis', ...exit },
            'store down',
            `store down: redis-server ended (${describeExit(exit)}); sessions are unavailable until it is back (unpinned restart-store).`,
          );
        },
      });
      return { kind: 'redis', url: server.url, server };
    }
    if (store === 'redis') {
      throw new SystemError(
        'UNPINNED_ERR_NO_STORE',
        'redis-server is not on PATH: install it (apt-get install -y redis-server), pass --redis <url>, or use --store sqlite.',
      );
    }
    this.#event(
      'warn',
      { store: 'sqlite' },
      'redis-server not found: using the embedded SQLite store (one host only)',
      'redis-server not found: using the embedded SQLite store (one host only).',
    );
    return { kind: 'sqlite', path: join(this.#dir!, 'sessions.db') };
  }

  #storeEnv(): Record<string, string> {
    const store = this.#store;
    if (store.kind === 'redis') return { UNPINNED_SESSIONS: 'redis', REDIS_URL: store.url };
    if (store.kind === 'sqlite') return { UNPINNED_SESSIONS: 'sqlite', UNPINNED_SQLITE_PATH: store.path };
    return { UNPINNED_SESSIONS: 'memory' };
  }

  #newApp(): AppProcess {
    const capacity = this.#options.capacity;
    const app = new AppProcess({
      name: `app-${this.#next++}`,
      command: this.#options.app ?? [process.execPath, shopServerPath()],
      env: {
        ...this.#storeEnv(),
        ...(capacity
          ? { MAX_CONCURRENT: String(capacity.maxConcurrent), SERVICE_MS: String(capacity.serviceMs) }
          : {}),
      },
      healthPath: this.#options.healthPath,
      onCrash: (exit) =>
        this.#event(
          'error',
          { server: app.name, ...exit },
          `${app.name} crashed`,
          `${app.name} crashed (${describeExit(exit)})`,
        ),
      startTimeoutMs: 20_000,
      stopTimeoutMs: 10_000,
      ...(this.#watchdog ? { watchdog: this.#watchdog } : {}),
    });
    if (this.#store.kind === 'memory') this.#inMemory.add(app);
    return app;
  }

  status(): SystemStatus {
    const balancer = this.balancer;
    const byId = new Map(balancer.backends().map((b) => [b.id, b]));
    const store = this.#store;
    return {
      balancer: { url: this.#balancerUrl, strategy: balancer.strategy },
      store: {
        kind: store.kind,
        // Status goes to the terminal, the control API and the dashboard page: never a password.
        url:
          store.kind === 'redis' ? withoutPassword(store.url) : store.kind === 'sqlite' ? store.path : null,
        up: store.kind !== 'redis' || !store.server || store.server.pid !== undefined,
        pid: store.kind === 'redis' ? (store.server?.pid ?? null) : null,
      },
      dir: this.#dir,
      sticky: this.#options.sticky,
      migration: this.#migration?.status(balancer) ?? null,
      process: { pid: process.pid, rssBytes: process.memoryUsage.rss(), heapUsedBytes: heapUsed() },
      servers: this.#apps.map((app) => {
        const b = byId.get(app.name);
        return {
          name: app.name,
          url: app.url,
          pid: app.pid,
          state:
            app.state === 'up' && b?.draining
              ? 'draining'
              : app.state === 'up' && b && !b.healthy
                ? 'down'
                : app.state === 'up' && b?.retiring
                  ? 'retiring'
                  : app.state,
          sessions: this.#inMemory.has(app) ? 'memory' : 'shared',
          ...(b?.retiring ? { legacySessions: b.legacySessions } : {}),
          inFlight: b?.inFlight ?? 0,
          live: b?.longLived ?? 0,
          requests: b?.requests ?? 0,
          failures: b?.failures ?? 0,
        };
      }),
    };
  }

  /** Rolling deploy: one server at a time, drain, stop, start a replacement, wait healthy, put it in. */
  deploy(): Promise<SystemStatus> {
    return this.#exclusive(async () => {
      this.#refuseWhileMigrating();
      this.#logger.info({ step: 'started', servers: this.#apps.length }, 'deploy: started');
      await this.#logFailure('deploy', async () => {
        for (const old of [...this.#apps]) {
          await this.#retire(old);
          const fresh = await this.#addApp(this.#apps.indexOf(old));
          this.#remove(old);
          this.#metrics.deploySteps++;
          this.#logger.info(
            { step: 'replaced', server: old.name, by: fresh.name },
            `deploy: ${old.name} replaced by ${fresh.name}`,
          );
        }
      });
      this.#metrics.deploys++;
      this.#logger.info({ step: 'done', servers: this.#apps.length }, 'deploy: done');
      return this.status();
    });
  }

  /** Scale to `n` servers: new ones join once healthy; removed ones drain first. */
  scale(n: number): Promise<SystemStatus> {
    if (!Number.isInteger(n) || n < 1 || n > 64) {
      return Promise.reject(
        new SystemError('UNPINNED_ERR_INVALID_OPTION', `scale needs a server count from 1 to 64, got ${n}.`, {
          statusCode: 400,
        }),
      );
    }
    return this.#exclusive(async () => {
      this.#refuseWhileMigrating();
      const from = this.#apps.length;
      this.#logger.info({ step: 'started', from, to: n }, `scale: ${from} to ${n} servers`);
      await this.#logFailure('scale', async () => {
        const added: Promise<AppProcess>[] = [];
        for (let i = this.#apps.length; i < n; i++)
          added.push(this.#addApp(this.#apps.length + added.length));
        await Promise.all(added);
        while (this.#apps.length > n) {
          const victim = this.#apps[this.#apps.length - 1]!;
          await this.#retire(victim);
          this.#remove(victim);
          this.#logger.info({ step: 'removed', server: victim.name }, `scale: ${victim.name} removed`);
        }
      });
      this.#logger.info({ step: 'done', servers: this.#apps.length }, 'scale: done');
      return this.status();
    });
  }

  /** Add one server at the end; it joins the balancer once healthy. */
  add(): Promise<SystemStatus> {
    return this.#exclusive(async () => {
      this.#refuseWhileMigrating();
      if (this.#apps.length >= 64) {
        throw new SystemError('UNPINNED_ERR_INVALID_OPTION', 'A system runs at most 64 app servers.', {
          statusCode: 409,
        });
      }
      await this.#addApp(this.#apps.length);
      return this.status();
    });
  }

  /** Remove one named server: drained first (in-flight requests finish), then stopped. */
  remove(name: string): Promise<SystemStatus> {
    return this.#exclusive(async () => {
      this.#refuseWhileMigrating();
      const app = this.#find(name);
      if (this.#apps.length === 1) {
        throw new SystemError(
          'UNPINNED_ERR_INVALID_OPTION',
          `${name} is the last server: add another before removing it.`,
          { statusCode: 409 },
        );
      }
      await this.#retire(app);
      this.#remove(app);
      return this.status();
    });
  }

  /** Crash a server: SIGKILL, no drain. The balancer finds out the way it would in production. */
  async kill(name: string): Promise<SystemStatus> {
    await this.#find(name).kill();
    this.#metrics.kills++;
    this.#logger.warn({ server: name, signal: 'SIGKILL' }, `${name} killed`);
    return this.status();
  }

  /**
   * Restart the store (a private Redis keeps its data across the restart). `downMs` keeps it down
   * that long first: the lab's store outage.
   */
  restartStore({ downMs = 0 }: { downMs?: number } = {}): Promise<SystemStatus> {
    return this.#exclusive(async () => {
      const store = this.#store;
      if (store.kind !== 'redis' || !store.server) {
        throw new SystemError(
          'UNPINNED_ERR_NO_STORE',
          store.kind === 'redis'
            ? 'The store is an external Redis (--redis): restart it where it runs.'
            : `The ${store.kind} store has no server process to restart.`,
          { statusCode: 409 },
        );
      }
      this.#logger.warn({ store: 'redis', downMs }, 'store restarting');
      await store.server.restart(downMs);
      this.#metrics.storeRestarts++;
      this.#logger.info({ store: 'redis' }, 'store up');
      return this.status();
    });
  }

  /**
   * Moves a sticky system (`up --sticky`) off sticky sessions without logging anyone out
   * (DESIGN §11): starts as many stateless servers on the shared store (a redis-server is started
   * if there was none), marks every old server retiring, balances the pool, and stops each old
   * server once the balancer retired it (its last session ended, or the cap). Resolves once the
   * move has started; `status().migration` and the returned `done` follow it.
   */
  migrate(options: MigrationOptions = {}): Promise<SystemStatus> {
    return this.#exclusive(async () => {
      if (this.#migration) {
        throw new SystemError(
          'UNPINNED_ERR_MIGRATING',
          `A migration off sticky sessions is already ${this.#migration.done ? 'done' : 'running'}: follow it with \`unpinned status\`.`,
          { statusCode: 409 },
        );
      }
      if (!this.#options.sticky) {
        throw new SystemError(
          'UNPINNED_ERR_NOT_STICKY',
          'This system is already stateless (sessions in the shared store): there is nothing to migrate. `unpinned migrate` moves a system started with `unpinned up --sticky`.',
          { statusCode: 409 },
        );
      }
      const balancer = this.balancer;
      const migration = new Migration(
        options,
        [...this.#inMemory].map((a) => a.name),
      );
      balancer.configureLegacy({ cookie: this.#options.sessionCookie, idleMs: migration.idleMs });
      if (this.#store.kind === 'memory') this.#store = await this.#startStore(false);
      const old = this.#apps.filter((a) => this.#inMemory.has(a));
      const fresh = old.map(() => this.#newApp());
      await Promise.all(fresh.map((app) => app.start()));
      this.#apps = [...this.#apps, ...fresh];
      for (const app of fresh) {
        balancer.addBackend({ id: app.name, url: app.url });
        this.#event(
          'info',
          { server: app.name, url: app.url, pid: app.pid, sessions: 'shared' },
          `${app.name} up`,
          `${app.name} up at ${app.url} (shared store)`,
        );
      }
      // Retiring first, then the balanced strategy: the sticky pins of the old servers' users
      // are honoured by the legacy unit from this moment on.
      migration.begin();
      for (const app of old) {
        const retired = balancer.retire(app.name, { retireAfterMs: migration.capMs });
        migration.track(
          app.name,
          retired.then((result) => this.#retired(app, result)),
        );
      }
      balancer.setStrategy(this.#options.strategy ?? 'round-robin');
      this.#migration = migration;
      this.#logger.info(
        { step: 'started', retiring: old.map((a) => a.name), capMs: migration.capMs },
        'migrate: started',
      );
      void migration.finished.then(() => {
        this.#options.sticky = false;
        this.#event(
          'info',
          { step: 'done' },
          'migrate: done',
          'migration done: every server keeps sessions in the shared store (stateless).',
        );
      });
      return this.status();
    });
  }

  /**
   * The way people move off sticky sessions without legacy affinity, kept for the lab to compare
   * with `migrate()`: switch the balancer to round-robin, then redeploy every server onto the
   * shared store, one at a time. Everyone whose session lived in an old server's memory loses it.
   */
  naiveMigrate(): Promise<SystemStatus> {
    return this.#exclusive(async () => {
      if (!this.#options.sticky)
        throw new SystemError('UNPINNED_ERR_NOT_STICKY', 'This system is already stateless.', {
          statusCode: 409,
        });
      if (this.#store.kind === 'memory') this.#store = await this.#startStore(false);
      this.balancer.setStrategy(this.#options.strategy ?? 'round-robin');
      for (const old of [...this.#apps]) {
        await this.#retire(old);
        await this.#addApp(this.#apps.indexOf(old));
        this.#remove(old);
        this.#inMemory.delete(old);
      }
      this.#options.sticky = false;
      return this.status();
    });
  }

  /**
   * `performance.now()` at the moment the old servers were marked retiring; null before. The
   * monotonic clock of this process, unlike `status().migration.startedAt`, a wall-clock time to
   * the millisecond: what the lab compares with its own request times.
   */
  get migrationBeganAt(): number | null {
    return this.#migration?.beganAt ?? null;
  }

  /** Resolves when a running migration is done (at once when none runs). */
  get migrated(): Promise<void> {
    return this.#migration?.finished ?? Promise.resolve();
  }

  async #retired(app: AppProcess, result: RetireResult): Promise<RetireResult> {
    this.#event(
      'info',
      { server: app.name, reason: result.reason, forcedOut: result.forcedOut },
      `${app.name} retired`,
      `${app.name} retired (${result.reason === 'cap' ? `cap reached, ${result.forcedOut} sessions forced out` : 'no session left'})`,
    );
    if (this.#balancer === null) return result; // stopped meanwhile
    app.state = 'stopping';
    await app.stop();
    this.#remove(app);
    this.#inMemory.delete(app);
    return result;
  }

  #refuseWhileMigrating(): void {
    if (this.#migration && !this.#migration.done)
      throw new SystemError(
        'UNPINNED_ERR_MIGRATING',
        'A migration off sticky sessions is running: wait until `unpinned status` says stateless (or its cap) before changing servers.',
        { statusCode: 409 },
      );
  }

  setStrategy(name: string): SystemStatus {
    this.balancer.setStrategy(name);
    return this.status();
  }

  /**
   * Stop everything this system started; safe to call twice. A server or store that dies on its
   * own meanwhile is reported in the log, never waited for or thrown about.
   */
  async stop(): Promise<void> {
    const balancer = this.#balancer;
    this.#balancer = null;
    await balancer?.close();
    await Promise.all(
      this.#apps.map(async (app) => {
        const before = app.exit;
        await app.stop();
        const exit = app.exit;
        const fields = { server: app.name, ...(before ?? exit) };
        if (before)
          this.#event(
            'warn',
            fields,
            `${app.name} had already ended`,
            `${app.name} had already ended (${describeExit(before)}).`,
          );
        else if (exit && app.state === 'down' && exit.signal !== 'SIGTERM' && exit.code !== 0)
          this.#event(
            'warn',
            fields,
            `${app.name} ended while stopping`,
            `${app.name} ended while stopping (${describeExit(exit)}).`,
          );
      }),
    );
    this.#apps = [];
    const store = this.#store;
    if (store.kind === 'redis' && store.server) {
      const exit = store.server.exit;
      await store.server.close();
      if (exit)
        this.#event(
          'warn',
          { store: 'redis', ...exit },
          'store had already ended',
          `store: redis-server had already ended (${describeExit(exit)}).`,
        );
    }
    this.#store = { kind: 'memory' };
    if (this.#dir) this.#paths.add(this.#dir);
    for (const path of this.#paths) {
      rmSync(path, { recursive: true, force: true });
      this.#watchdog?.release(path);
    }
    this.#paths.clear();
    this.#dir = null;
    const watchdog = this.#watchdog;
    this.#watchdog = null;
    await watchdog?.close();
  }

  /**
   * Remove `path` when this system stops, or, if this process dies first, when the watchdog
   * notices (the CLI's control file: a stale one would point the verbs at a dead system).
   */
  removeWithSystem(path: string): void {
    this.#paths.add(path);
    this.#watchdog?.keep(path);
  }

  /**
   * The fast stop, for a second Ctrl-C: SIGKILL every process this system started, remove its
   * files, no goodbyes. Returns how many process groups were killed.
   */
  forceStop(): number {
    const killed = this.#watchdog?.killAll() ?? 0;
    this.#watchdog = null;
    this.#dir = null;
    return killed;
  }

  /** Drain a server out of the balancer (in-flight requests finish), then stop it. */
  async #retire(app: AppProcess): Promise<void> {
    const balancer = this.balancer;
    if (app.state === 'up') {
      app.state = 'draining';
      this.#logger.info({ server: app.name }, `${app.name} draining`);
      await balancer.drain(app.name);
    }
    await balancer.removeBackend(app.name);
    await app.stop();
    this.#metrics.serversStopped++;
  }

  async #addApp(index: number): Promise<AppProcess> {
    const app = this.#newApp();
    this.#apps.splice(index, 0, app);
    await app.start();
    this.#metrics.serversStarted++;
    this.balancer.addBackend({ id: app.name, url: app.url });
    this.#event(
      'info',
      { server: app.name, url: app.url, pid: app.pid },
      `${app.name} up`,
      `${app.name} up at ${app.url}`,
    );
    return app;
  }

  /** Runs an operation's steps; a failure is one error line (its code, never a stack), then thrown on. */
  async #logFailure(operation: string, steps: () => Promise<void>): Promise<void> {
    try {
      await steps();
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code;
      const message = error instanceof Error ? error.message : String(error);
      this.#logger.error(
        { step: 'failed', code: typeof code === 'string' ? code : null, error: message },
        `${operation}: failed`,
      );
      throw error;
    }
  }

  /** One event: a structured line for the logger and, where people read it, a status line. */
  #event(level: keyof Logger, fields: LogFields, msg: string, line?: string): void {
    this.#logger[level](fields, msg);
    if (line !== undefined) this.#options.log(line);
  }

  #find(name: string): AppProcess {
    const app = this.#apps.find((a) => a.name === name);
    if (!app)
      throw unknownServer(
        name,
        this.#apps.map((a) => a.name),
      );
    return app;
  }

  #remove(app: AppProcess): void {
    this.#apps = this.#apps.filter((a) => a !== app);
  }

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => {});
    return run;
  }
}

function describeExit(exit: { code: number | null; signal: NodeJS.Signals | null }): string {
  return exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`;
}

/** `url` with its password masked (`redis://user:***@host:port`); unparseable, nothing of it. */
function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.href;
  } catch {
    return '(unparseable store URL)';
  }
}

/** V8's used heap, without the full `memoryUsage()` walk of every heap space. */
function heapUsed(): number {
  return getHeapStatistics().used_heap_size;
}
