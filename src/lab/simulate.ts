/**
 * `unpinned lab --simulate`: the balancer's own strategy classes, unchanged, on a
 * virtual clock, for hundreds of servers and up to millions of users. Nothing
 * goes over a network: each server is modelled as `slots` parallel workers with
 * a fixed service time and a FIFO queue (M/D/c), and the workload is sized so
 * the whole fleet runs at `utilisation` of its capacity. What it shows is how
 * load imbalance and losses behave past one machine; the absolute latencies are
 * those of the model, not of any real server.
 *
 * Sessions: under the sticky baseline (sticky-cookie, ip-hash) a session lives
 * in the memory of the server that logged the user in; a user who comes back
 * after that server crashed lands elsewhere and has lost it. Under the stateless
 * strategies the session is in the shared store, which the model keeps up.
 */
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Backend } from '../balancer/backend.js';
import { seededRandom } from '../balancer/clock.js';
import { createStrategy } from '../balancer/strategies/index.js';
import { type PickContext, type StrategyName, strategyNames } from '../balancer/strategies/strategy.js';
import { packageRoot } from '../system/paths.js';
import { newHistogram, round2 } from './recorder.js';
import { generateWorkload, type Workload } from './sim-workload.js';

export interface SimulationOptions {
  servers: number;
  users: number;
  seed?: number;
  /** Concurrent requests per server. */
  slots?: number;
  /** Fleet utilisation the service time is sized for (0–1). */
  utilisation?: number;
  /** Virtual window, ms. */
  windowMs?: number;
  /** Strategies to run (default: all). */
  strategies?: readonly StrategyName[];
}

export interface SimulatedStrategy {
  strategy: StrategyName;
  sessions: 'memory (sticky)' | 'shared store';
  /** max / mean requests per server, before the crash. */
  imbalance: number;
  maxPerServer: number;
  meanPerServer: number;
  p50Ms: number;
  p99Ms: number;
  /** Users who came back after the crash and found their session gone. */
  sessionsLost: number;
  /** Requests in flight on the crashed server when it died. */
  failedRequests: number;
}

export interface SimulationResult {
  servers: number;
  users: number;
  requests: number;
  topUsersShare: number;
  windowSeconds: number;
  serviceMs: number;
  slots: number;
  utilisation: number;
  crash: { server: string; atSeconds: number };
  strategies: SimulatedStrategy[];
  elapsedMs: number;
}

const stickyStrategies: readonly StrategyName[] = ['sticky-cookie', 'ip-hash'];

/**
 * Run the simulation. The strategies run in parallel worker threads (each replays the same
 * workload, shared through SharedArrayBuffers); `parallel: false` runs them in this thread.
 *
 * @example
 * const r = await simulate({ servers: 200, users: 1_000_000 });
 * for (const s of r.strategies) console.log(s.strategy, s.imbalance);
 */
export async function simulate(
  options: SimulationOptions & { parallel?: boolean },
): Promise<SimulationResult> {
  const began = performance.now();
  const windowMs = options.windowMs ?? 600_000;
  const slots = options.slots ?? 4;
  const utilisation = options.utilisation ?? 0.7;
  const seed = options.seed ?? 1;
  const workload = generateWorkload({
    users: options.users,
    windowMs,
    alpha: 1.5,
    maxRequestsPerUser: 1000,
    thinkMs: 5_000,
    seed,
    shared: options.parallel !== false,
  });
  // Service time that makes the offered load `utilisation` of the fleet's capacity.
  const serviceMs = (utilisation * options.servers * slots * windowMs) / Math.max(1, workload.requests);
  const model: Model = {
    servers: options.servers,
    users: options.users,
    slots,
    serviceMs,
    crashAt: windowMs * 0.75,
    seed,
  };
  const names = options.strategies ?? strategyNames;
  const strategies =
    options.parallel === false
      ? names.map((name) => runStrategy(name, workload, model))
      : await runInWorkers(names, workload, model);
  return {
    servers: options.servers,
    users: options.users,
    requests: workload.requests,
    topUsersShare: round2(workload.topShare),
    windowSeconds: windowMs / 1000,
    serviceMs: round2(serviceMs),
    slots,
    utilisation,
    crash: { server: 'app-1', atSeconds: model.crashAt / 1000 },
    strategies,
    elapsedMs: Math.round(performance.now() - began),
  };
}

/** Rough relative cost of each strategy per pick, to spread them over the workers evenly. */
const cost: Record<StrategyName, number> = {
  'least-connections': 3,
  'sticky-cookie': 3,
  'ip-hash': 2,
  p2c: 1.5,
  'round-robin': 1,
  random: 1,
};

async function runInWorkers(
  names: readonly StrategyName[],
  w: Workload,
  model: Model,
): Promise<SimulatedStrategy[]> {
  const groups: StrategyName[][] = [[], [], []];
  const load = [0, 0, 0];
  for (const name of [...names].sort((a, b) => cost[b] - cost[a])) {
    const g = load.indexOf(Math.min(...load));
    groups[g]!.push(name);
    load[g]! += cost[name];
  }
  const results = await Promise.all(
    groups.filter((g) => g.length > 0).map((group) => runWorker(group, w, model)),
  );
  const byName = new Map(results.flat().map((r) => [r.strategy, r]));
  return names.map((name) => byName.get(name)!);
}

function runWorker(names: StrategyName[], w: Workload, model: Model): Promise<SimulatedStrategy[]> {
  const worker = new Worker(join(packageRoot(), 'dist', 'src', 'lab', 'sim-worker.js'), {
    workerData: {
      names,
      workload: { user: w.user, at: w.at, requests: w.requests, topShare: w.topShare },
      model,
    },
  });
  return new Promise((resolve, reject) => {
    worker.once('message', (result: SimulatedStrategy[]) => {
      resolve(result);
      void worker.terminate();
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`simulation worker exited with code ${code}`));
    });
  });
}

export interface Model {
  servers: number;
  users: number;
  slots: number;
  serviceMs: number;
  crashAt: number;
  seed: number;
}

/** A simulated server: the balancer's Backend (what strategies read) plus its ring position. */
class SimServer extends Backend {
  constructor(seq: number) {
    // A loopback address that is never dialled: the pool connects lazily and nothing is sent.
    super({ id: `app-${seq + 1}`, url: `http://127.0.0.1:${10_000 + seq}` }, poolSettings);
    // The member sequence the balancer's Members would give it: the ring position.
    this.seq = seq;
  }
}

const poolSettings = {
  connections: 1,
  connectTimeoutMs: 1,
  headersTimeoutMs: 1,
  idleTimeoutMs: 1,
  keepAliveTimeoutMs: 1,
  maxResponseHeaderBytes: 1024,
};

type MutableContext = { -readonly [K in keyof PickContext]: PickContext[K] };

export function runStrategy(name: StrategyName, w: Workload, m: Model): SimulatedStrategy {
  const sticky = stickyStrategies.includes(name);
  const strategy = createStrategy(name, { random: seededRandom(m.seed + 99), stickyCookie: 'SRV' });
  const servers = Array.from({ length: m.servers }, (_, i) => new SimServer(i));
  const cookieOf = servers.map((s) => `SRV=${s.cookieValue}`);
  let candidates: readonly SimServer[] = servers;
  const headers: { cookie: string | undefined } = { cookie: undefined };
  const ctx: MutableContext = {
    req: { headers } as unknown as IncomingMessage,
    clientIp: '',
    members: servers,
    tried: undefined,
    now: 0,
    seqOf: (b) => (b as SimServer).seq,
  };
  const pin = new Int32Array(m.users).fill(-1); // sticky cookie held by the user
  const home = new Int32Array(m.users).fill(-1); // server whose memory holds the session
  const slotFree = new Float64Array(m.servers * m.slots);
  const perServer = new Float64Array(m.servers);
  const completions = new CompletionHeap();
  const histogram = newHistogram();
  const complete = (server: number) => {
    servers[server]!.inFlight--;
  };
  let crashed = false;
  let failedRequests = 0;
  let sessionsLost = 0;
  for (let i = 0; i < w.requests; i++) {
    const now = w.at[i]!;
    const u = w.user[i]!;
    completions.popUntil(now, complete);
    if (!crashed && now >= m.crashAt) {
      crashed = true;
      const victim = servers[0]!;
      failedRequests = victim.inFlight;
      victim.healthy = false;
      candidates = servers.slice(1);
    }
    ctx.now = now;
    // Only what the strategy reads: the cookie it set (sticky-cookie), the address (ip-hash).
    if (name === 'sticky-cookie') headers.cookie = pin[u]! >= 0 ? cookieOf[pin[u]!] : undefined;
    else if (name === 'ip-hash') ctx.clientIp = `10.${(u >>> 16) & 255}.${(u >>> 8) & 255}.${u & 255}`;
    const picked = strategy.pick(candidates, ctx) as SimServer;
    const s = picked.seq;
    if (sticky) {
      pin[u] = s;
      if (home[u]! >= 0 && home[u] !== s) sessionsLost++;
      home[u] = s;
    }
    if (!crashed) perServer[s]!++;
    // M/D/c FIFO: the request starts when the earliest slot of its server is free.
    let slot = s * m.slots;
    for (let k = s * m.slots + 1; k < (s + 1) * m.slots; k++) if (slotFree[k]! < slotFree[slot]!) slot = k;
    const done = Math.max(now, slotFree[slot]!) + m.serviceMs;
    slotFree[slot] = done;
    picked.inFlight++;
    completions.push(done, s);
    histogram.recordValue(Math.max(1, Math.round((done - now) * 1000)));
  }
  let max = 0;
  let sum = 0;
  for (const n of perServer) {
    max = Math.max(max, n);
    sum += n;
  }
  const mean = sum / m.servers;
  for (const server of servers) void server.pool.destroy();
  return {
    strategy: name,
    sessions: sticky ? 'memory (sticky)' : 'shared store',
    imbalance: round2(max / mean),
    maxPerServer: max,
    meanPerServer: Math.round(mean),
    p50Ms: round2(histogram.getValueAtPercentile(50) / 1000),
    p99Ms: round2(histogram.getValueAtPercentile(99) / 1000),
    sessionsLost,
    failedRequests,
  };
}

/** A binary min-heap of (completion time, server) on typed arrays: the only event queue needed. */
class CompletionHeap {
  #time = new Float64Array(1024);
  #server = new Int32Array(1024);
  #size = 0;

  push(time: number, server: number): void {
    if (this.#size === this.#time.length) this.#grow();
    let i = this.#size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.#time[parent]! <= time) break;
      this.#time[i] = this.#time[parent]!;
      this.#server[i] = this.#server[parent]!;
      i = parent;
    }
    this.#time[i] = time;
    this.#server[i] = server;
  }

  /** Pop every completion at or before `now`, calling `fn` with its server. */
  popUntil(now: number, fn: (server: number) => void): void {
    while (this.#size > 0 && this.#time[0]! <= now) {
      fn(this.#server[0]!);
      const last = --this.#size;
      const time = this.#time[last]!;
      const server = this.#server[last]!;
      let i = 0;
      for (;;) {
        let child = 2 * i + 1;
        if (child >= last) break;
        if (child + 1 < last && this.#time[child + 1]! < this.#time[child]!) child++;
        if (this.#time[child]! >= time) break;
        this.#time[i] = this.#time[child]!;
        this.#server[i] = this.#server[child]!;
        i = child;
      }
      this.#time[i] = time;
      this.#server[i] = server;
    }
  }

  #grow(): void {
    const time = new Float64Array(this.#time.length * 2);
    const server = new Int32Array(this.#server.length * 2);
    time.set(this.#time);
    server.set(this.#server);
    this.#time = time;
    this.#server = server;
  }
}

/** The simulation as a table for the terminal. */
export function formatSimulation(r: SimulationResult): string {
  const head = `${r.servers} servers, ${r.users.toLocaleString('en')} users, ${r.requests.toLocaleString('en')} requests over ${r.windowSeconds} virtual s (busiest 1% of users make ${Math.round(r.topUsersShare * 100)}% of them); ${r.slots} slots × ${r.serviceMs} ms per server, ${Math.round(r.utilisation * 100)}% fleet utilisation; ${r.crash.server} crashes at ${r.crash.atSeconds} s`;
  const cols = [
    'strategy',
    'sessions',
    'max/mean',
    'max',
    'mean',
    'p50 ms',
    'p99 ms',
    'sessions lost',
    'failed',
  ];
  const rows = r.strategies.map((s) => [
    s.strategy,
    s.sessions,
    s.imbalance.toFixed(2),
    String(s.maxPerServer),
    String(s.meanPerServer),
    s.p50Ms.toFixed(1),
    s.p99Ms.toFixed(1),
    String(s.sessionsLost),
    String(s.failedRequests),
  ]);
  const widths = cols.map((c, i) => Math.max(c.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [
    head,
    '',
    line(cols),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
    `simulated in ${(r.elapsedMs / 1000).toFixed(1)} s`,
  ].join('\n');
}
