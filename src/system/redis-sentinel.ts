/**
 * A real local Redis with Sentinel: one master, two replicas and three
 * Sentinels (quorum 2), each a private redis-server on a free loopback port,
 * with short failure detection so a failover takes seconds. With `linkDelayMs`,
 * the replicas replicate through a link with that latency (see delay-link.ts),
 * and `killMaster()` cuts it, so writes the replicas had not received are lost
 * with the master, as in a real host failure.
 */
import { createClient } from 'redis';
import { DelayLink } from './delay-link.js';
import { RedisServer } from './redis-server.js';

export interface SentinelSetupOptions {
  /** Master name the Sentinels monitor. Default `unpinned`. */
  name?: string;
  /** Latency of the master → replica links, in ms. Default 0 (direct). */
  linkDelayMs?: number;
  /** Sentinel `down-after-milliseconds`. Default 1000. */
  downAfterMs?: number;
}

export class RedisSentinelSetup {
  readonly name: string;
  readonly master: RedisServer;
  readonly replicas: RedisServer[];
  readonly sentinels: RedisServer[];
  readonly #links: DelayLink[];

  private constructor(
    name: string,
    master: RedisServer,
    replicas: RedisServer[],
    sentinels: RedisServer[],
    links: DelayLink[],
  ) {
    this.name = name;
    this.master = master;
    this.replicas = replicas;
    this.sentinels = sentinels;
    this.#links = links;
  }

  static async start(options: SentinelSetupOptions = {}): Promise<RedisSentinelSetup> {
    const name = options.name ?? 'unpinned';
    const started: RedisServer[] = [];
    const links: DelayLink[] = [];
    try {
      const master = await RedisServer.start();
      started.push(master);
      const replicas: RedisServer[] = [];
      for (let i = 0; i < 2; i++) {
        let port = master.port;
        if (options.linkDelayMs) {
          const link = await DelayLink.open(master.port, options.linkDelayMs);
          links.push(link);
          port = link.port;
        }
        const replica = await RedisServer.start({ extraArgs: ['--replicaof', '127.0.0.1', String(port)] });
        started.push(replica);
        replicas.push(replica);
      }
      // Sentinels read the replicas from the master's INFO when they connect, and
      // again only every 10 s: start them once the replicas are in sync.
      await waitFor(
        async () =>
          ((await ask(master, ['INFO', 'replication'])) as string).match(/state=online/g)?.length === 2,
        'replicas to sync',
      );
      const config = [
        `sentinel monitor ${name} 127.0.0.1 ${master.port} 2`,
        `sentinel down-after-milliseconds ${name} ${options.downAfterMs ?? 1000}`,
        `sentinel failover-timeout ${name} 5000`,
        `sentinel parallel-syncs ${name} 2`,
        '',
      ].join('\n');
      const sentinels: RedisServer[] = [];
      for (let i = 0; i < 3; i++) {
        const sentinel = await RedisServer.start({ sentinelConfig: config });
        started.push(sentinel);
        sentinels.push(sentinel);
      }
      const setup = new RedisSentinelSetup(name, master, replicas, sentinels, links);
      await setup.#waitUntilWatched();
      return setup;
    } catch (error) {
      await Promise.all(links.map((l) => l.cut()));
      await Promise.all(started.map((s) => s.close()));
      throw error;
    }
  }

  /** Sentinel addresses for a client (`createSentinel({ sentinelRootNodes })`). */
  get sentinelNodes(): { host: string; port: number }[] {
    return this.sentinels.map((s) => ({ host: '127.0.0.1', port: s.port }));
  }

  /** The master's port as the Sentinels report it now. */
  async masterPort(): Promise<number> {
    const [, port] = (await ask(this.sentinels[0]!, [
      'SENTINEL',
      'GET-MASTER-ADDR-BY-NAME',
      this.name,
    ])) as string[];
    return Number(port);
  }

  /** The master's host fails: SIGKILL, and the links to its replicas are cut with it. */
  async killMaster(): Promise<void> {
    await Promise.all([this.master.kill(), ...this.#links.map((l) => l.cut())]);
  }

  async close(): Promise<void> {
    await Promise.all(this.#links.map((l) => l.cut()));
    await Promise.all([this.master, ...this.replicas, ...this.sentinels].map((s) => s.close()));
  }

  /** Every Sentinel sees both replicas and the two other Sentinels (a failover needs both). */
  async #waitUntilWatched(): Promise<void> {
    await waitFor(async () => {
      const views = await Promise.all(
        this.sentinels.map(async (s) => {
          const replicas = (await ask(s, ['SENTINEL', 'REPLICAS', this.name])) as unknown[];
          const peers = (await ask(s, ['SENTINEL', 'SENTINELS', this.name])) as unknown[];
          return replicas.length === 2 && peers.length === 2;
        }),
      );
      return views.every(Boolean);
    }, 'the Sentinels to see the replicas and each other');
  }
}

async function ask(server: RedisServer, command: string[]): Promise<unknown> {
  const client = createClient({ url: server.url, RESP: 2 });
  client.on('error', () => {});
  await client.connect();
  try {
    return await client.sendCommand(command);
  } finally {
    await client.close();
  }
}

async function waitFor(condition: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Sentinel setup: timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
