/**
 * A real local Redis Cluster for tests and trials: three masters and three
 * replicas, each a private redis-server on a free loopback port, joined by
 * `redis-cli --cluster create ... --cluster-replicas 1`. Stopped and removed
 * completely by `close()`.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { findBinary } from './binaries.js';
import { RedisServer } from './redis-server.js';

const run = promisify(execFile);

export class RedisCluster {
  readonly nodes: RedisServer[];

  private constructor(nodes: RedisServer[]) {
    this.nodes = nodes;
  }

  /** Start 3 masters + 3 replicas and wait until every node reports `cluster_state:ok`. */
  static async start({ nodeTimeoutMs = 2000 } = {}): Promise<RedisCluster> {
    const cli = findBinary('redis-cli');
    if (!cli)
      throw new Error('redis-cli is not on PATH (it comes with redis-server: apt-get install redis-tools)');
    const nodes: RedisServer[] = [];
    const cluster = new RedisCluster(nodes);
    try {
      for (let i = 0; i < 6; i++) {
        nodes.push(
          await RedisServer.start({
            extraArgs: [
              '--cluster-enabled',
              'yes',
              '--cluster-config-file',
              'nodes.conf',
              '--cluster-node-timeout',
              String(nodeTimeoutMs),
            ],
          }),
        );
      }
      const addresses = nodes.map((n) => `127.0.0.1:${n.port}`);
      await run(cli, ['--cluster', 'create', ...addresses, '--cluster-replicas', '1', '--cluster-yes']);
      await cluster.#waitUntilOk(cli);
    } catch (error) {
      await cluster.close();
      throw error;
    }
    return cluster;
  }

  /** Addresses for a cluster client: any node leads it to the others. */
  get rootNodes(): { url: string }[] {
    return this.nodes.map((n) => ({ url: n.url }));
  }

  /** Every node sees all slots covered, and every replica has finished its first sync. */
  async #waitUntilOk(cli: string): Promise<void> {
    const deadline = Date.now() + 30_000;
    const ask = async (port: number, ...command: string[]) =>
      (await run(cli, ['-p', String(port), ...command])).stdout;
    for (;;) {
      const states = await Promise.all(
        this.nodes.map(
          async (n) => (await ask(n.port, 'cluster', 'info')) + (await ask(n.port, 'info', 'replication')),
        ),
      );
      const synced = (s: string) =>
        s.includes('role:slave') ? s.includes('master_link_status:up') : /slave0:.*state=online/.test(s);
      if (states.every((s) => s.includes('cluster_state:ok') && synced(s))) return;
      if (Date.now() > deadline) throw new Error(`cluster did not reach cluster_state:ok:\n${states[0]}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.close()));
  }
}
