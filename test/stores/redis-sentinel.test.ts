/**
 * Redis with Sentinel, failover under load: the demo shop (a real process, its
 * store on a Sentinel client) creates sessions while the master's host fails
 * (SIGKILL, and its links to the replicas cut with their bytes in flight).
 * The app keeps serving once a replica is promoted, without a restart. Every
 * customer whose login was answered 200 then checks that its session and cart
 * are still there: the count of sessions lost, without and with the
 * durability option (WAIT for one replica before answering).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppProcess } from '../../src/system/app-process.js';
import { shopServerPath } from '../../src/system/paths.js';
import { RedisSentinelSetup } from '../../src/system/redis-sentinel.js';
import { describeRedis } from '../helpers/redis-server.js';
import { Shopper } from '../helpers/shopper.js';
import { waitFor } from '../helpers/wait.js';

/** Latency of the master → replica links: replicas in another zone. */
const LINK_DELAY_MS = 20;
const WORKERS = 16;

interface Outcome {
  created: number;
  createdBeforeKill: number;
  sessionsLost: number;
  itemsLost: number;
  failedRequests: number;
  loginsAfterFailover: number;
}

async function failoverUnderLoad(setup: RedisSentinelSetup, url: string): Promise<Outcome> {
  const created: Shopper[] = [];
  let next = 0;
  let killedAt = -1;
  let failedOver = false;
  let loginsAfter = 0;
  const deadline = Date.now() + 40_000;
  // Bounded in logins that landed and in attempts: while the master is gone, a
  // login fails at once (the store found its connection dead and is reconnecting),
  // so the attempts of the failover seconds must not use up the bound.
  const stop = () =>
    (failedOver && loginsAfter >= 40) || created.length >= 4000 || next >= 40_000 || Date.now() > deadline;
  const worker = async () => {
    while (!stop()) {
      const shopper = new Shopper(url, `customer-${next++}`);
      await shopper.login();
      if (!shopper.loggedIn) continue;
      await shopper.add('tea');
      created.push(shopper);
      if (failedOver) loginsAfter++;
    }
  };
  const chaos = (async () => {
    await waitFor(() => created.length >= 200 || Date.now() > deadline, { timeoutMs: 45_000, what: 'load' });
    killedAt = created.length;
    const oldPort = setup.master.port;
    await setup.killMaster();
    await waitFor(async () => (await setup.masterPort()) !== oldPort, {
      timeoutMs: 30_000,
      intervalMs: 100,
      what: 'the Sentinels to promote a replica',
    });
    failedOver = true;
  })();
  await Promise.all([...Array.from({ length: WORKERS }, worker), chaos]);
  // Each customer looks at its session once more, now on the promoted replica.
  await Promise.all(created.map((s) => s.look()));
  return {
    created: created.length,
    createdBeforeKill: killedAt,
    sessionsLost: created.filter((s) => s.sessionsLost > 0).length,
    itemsLost: created.reduce((n, s) => n + s.itemsLost, 0),
    failedRequests: created.reduce((n, s) => n + s.failed, 0),
    loginsAfterFailover: loginsAfter,
  };
}

describeRedis('Redis with Sentinel: failover under load', () => {
  const outcomes: Record<string, Outcome> = {};
  // Both setups (one per mode) come together at once: most of it is waiting for Sentinels.
  let setups: Promise<RedisSentinelSetup[]>;
  beforeAll(() => {
    setups = Promise.all([0, 1].map(() => RedisSentinelSetup.start({ linkDelayMs: LINK_DELAY_MS })));
    setups.catch(() => {});
  });
  afterAll(async () => {
    await Promise.all((await setups.catch(() => [])).map((s) => s.close()));
  });
  afterAll(() => {
    console.log(
      `\nSessions lost on failover (master SIGKILLed, ${LINK_DELAY_MS} ms replica links, ${WORKERS} concurrent logins):\n` +
        Object.entries(outcomes)
          .map(
            ([mode, o]) =>
              `  ${mode.padEnd(28)} ${o.sessionsLost} of ${o.createdBeforeKill} sessions created before the kill lost, ${o.itemsLost} items lost; ${o.failedRequests} requests failed (503) during failover; ${o.loginsAfterFailover} logins after it`,
          )
          .join('\n'),
    );
  });

  for (const [index, durable] of [false, true].entries()) {
    const mode = durable ? 'durability: WAIT 1 replica' : 'without durability';
    describe(mode, () => {
      it('keeps serving after the failover, without a restart; counts what was lost', async () => {
        const setup = (await setups)[index]!;
        const shop = new AppProcess({
          name: 'shop-sentinel',
          command: [process.execPath, shopServerPath()],
          env: {
            REDIS_SENTINEL: `${setup.name}@${setup.sentinelNodes.map((n) => `${n.host}:${n.port}`).join(',')}`,
            ...(durable && { REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '300' }),
          },
          healthPath: '/healthz',
          startTimeoutMs: 20_000,
          stopTimeoutMs: 5_000,
        });
        try {
          await shop.start();
          const outcome = await failoverUnderLoad(setup, shop.url);
          outcomes[mode] = outcome;
          // The app kept serving: new customers logged in on the promoted master.
          expect(outcome.loginsAfterFailover).toBeGreaterThanOrEqual(40);
          expect(outcome.createdBeforeKill).toBeGreaterThanOrEqual(200);
          expect(outcome.sessionsLost).toBeLessThanOrEqual(outcome.createdBeforeKill);
          if (durable) expect(outcome).toMatchObject({ sessionsLost: 0, itemsLost: 0 });
        } finally {
          await shop.stop();
        }
      });
    });
  }
});
