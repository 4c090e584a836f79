/**
 * Table-driven strategy tests at the pick level: the member base and a strategy, real Backend
 * objects (their pools never connect here), a scripted schedule of failures and drains, and the
 * exact pick sequence (deterministic strategies) or traffic shares (seeded random ones).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Backend } from '../../src/balancer/backend.js';
import { seededRandom } from '../../src/balancer/clock.js';
import { Members } from '../../src/balancer/members.js';
import { createStrategy, type PickContext, type Strategy } from '../../src/balancer/strategies/index.js';
import { ManualClock } from '../helpers/manual-clock.js';

type Step =
  | { pick: number }
  | { down: string }
  | { up: string }
  | { drain: string }
  | { undrain: string }
  | { busy: string; inFlight: number };

interface World {
  members: Members;
  strategy: Strategy;
  clock: ManualClock;
  byName: Map<string, Backend>;
}

const pools: Backend[] = [];
afterAll(async () => {
  await Promise.all(pools.map((b) => b.pool.close()));
});

function world(strategyName: string, names = ['a', 'b', 'c'], seed = 1, panic = 0): World {
  const clock = new ManualClock();
  const members = new Members(
    clock,
    { panicThresholdPercent: panic, maxEjectionPercent: 50, ejectAfterFailures: 0, ejectionCooldownMs: 0 },
    { onStateChange: () => {} },
  );
  const byName = new Map<string, Backend>();
  names.forEach((name, i) => {
    const b = new Backend(
      { url: `http://127.0.0.1:${40_000 + i}`, id: name },
      {
        connections: 1,
        connectTimeoutMs: 1000,
        headersTimeoutMs: 1000,
        idleTimeoutMs: 1000,
        keepAliveTimeoutMs: 1000,
        maxResponseHeaderBytes: 16_384,
      },
    );
    pools.push(b);
    members.add(b);
    byName.set(name, b);
  });
  const strategy = createStrategy(strategyName, { random: seededRandom(seed), stickyCookie: 'SRV' });
  return { members, strategy, clock, byName };
}

function ctx(w: World, clientIp = '127.0.0.1'): PickContext {
  return {
    req: undefined,
    clientIp,
    members: w.members.all(),
    tried: undefined,
    now: w.clock.now(),
    seqOf: (b) => w.members.seqOf(b),
  };
}

/** Runs a schedule and returns the names picked, in order. */
function run(w: World, steps: Step[]): string[] {
  const picks: string[] = [];
  for (const step of steps) {
    if ('pick' in step) {
      for (let i = 0; i < step.pick; i++) {
        const candidates = w.members.candidates();
        const b = candidates.length > 0 ? w.strategy.pick(candidates, ctx(w)) : undefined;
        picks.push(b?.id ?? '-');
      }
    } else if ('down' in step) w.members.setHealthy(w.byName.get(step.down)!, false);
    else if ('up' in step) w.members.setHealthy(w.byName.get(step.up)!, true);
    else if ('drain' in step) w.members.setDraining(w.byName.get(step.drain)!, true);
    else if ('undrain' in step) w.members.setDraining(w.byName.get(step.undrain)!, false);
    else w.byName.get(step.busy)!.inFlight = step.inFlight;
  }
  return picks;
}

describe('deterministic strategies: exact pick sequences under failures and drains', () => {
  const table: { strategy: string; steps: Step[]; expected: string }[] = [
    { strategy: 'round-robin', steps: [{ pick: 7 }], expected: 'abcabca' },
    {
      strategy: 'round-robin',
      steps: [{ pick: 2 }, { down: 'c' }, { pick: 3 }, { up: 'c' }, { pick: 3 }],
      expected: 'ab' + 'aba' + 'bca',
    },
    {
      strategy: 'round-robin',
      steps: [{ pick: 1 }, { drain: 'b' }, { pick: 4 }, { undrain: 'b' }, { pick: 3 }],
      expected: 'a' + 'caca' + 'bca',
    },
    {
      strategy: 'round-robin',
      steps: [{ down: 'a' }, { down: 'b' }, { down: 'c' }, { pick: 2 }],
      expected: '--',
    },
    {
      strategy: 'least-connections',
      steps: [{ pick: 3 }, { busy: 'a', inFlight: 5 }, { busy: 'b', inFlight: 2 }, { pick: 3 }],
      expected: 'abc' + 'ccc',
    },
    {
      strategy: 'least-connections',
      steps: [{ busy: 'c', inFlight: 1 }, { pick: 4 }, { drain: 'a' }, { pick: 2 }],
      expected: 'abab' + 'bb',
    },
    {
      strategy: 'least-connections',
      steps: [{ busy: 'b', inFlight: 3 }, { down: 'a' }, { pick: 2 }, { down: 'c' }, { pick: 1 }],
      expected: 'cc' + 'b',
    },
  ];

  it.each(table)('$strategy: $expected', ({ strategy, steps, expected }) => {
    expect(run(world(strategy), steps).join('')).toBe(expected);
  });

  it('ip-hash: a client keeps its server; when it goes down only its clients move', () => {
    const w = world('ip-hash', ['a', 'b', 'c', 'd']);
    const ips = Array.from({ length: 200 }, (_, i) => `10.0.${i >> 8}.${i & 255}`);
    const pickFor = (ip: string) => w.strategy.pick(w.members.candidates(), ctx(w, ip))!.id;
    const before = new Map(ips.map((ip) => [ip, pickFor(ip)]));
    expect(new Map(ips.map((ip) => [ip, pickFor(ip)]))).toEqual(before); // stable
    expect(new Set(before.values()).size).toBe(4); // spread over all servers
    w.members.setHealthy(w.byName.get('b')!, false);
    for (const ip of ips) {
      const now = pickFor(ip);
      if (before.get(ip) === 'b') expect(now).not.toBe('b');
      else expect(now).toBe(before.get(ip));
    }
  });
});

describe('seeded random strategies: traffic shares within tolerance', () => {
  const n = 6000;
  const shares = (picks: string[]) => {
    const counts: Record<string, number> = {};
    for (const p of picks) counts[p] = (counts[p] ?? 0) + 1;
    return Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, v / picks.length]));
  };

  it.each(['random', 'p2c'])('%s spreads evenly over healthy servers, none to a down one', (name) => {
    const s = shares(
      run(world(name, ['a', 'b', 'c'], 42), [{ pick: n }, { down: 'b' }, { pick: n }]).slice(n),
    );
    expect(s.b).toBeUndefined();
    expect(s.a).toBeGreaterThan(0.45);
    expect(s.c).toBeGreaterThan(0.45);
  });

  it.each(['random', 'p2c'])(
    '%s: a drained server gets nothing, an undrained one gets its share back',
    (name) => {
      const w = world(name, ['a', 'b', 'c', 'd'], 7);
      const drained = run(w, [{ drain: 'd' }, { pick: n }]);
      expect(drained).not.toContain('d');
      const s = shares(run(w, [{ undrain: 'd' }, { pick: n }]));
      for (const k of ['a', 'b', 'c', 'd']) expect(Math.abs(s[k]! - 0.25)).toBeLessThan(0.03);
    },
  );

  it('p2c avoids a busy server: two distinct draws, fewer in flight wins', () => {
    const w = world('p2c', ['a', 'b', 'c'], 3);
    const s = shares(run(w, [{ busy: 'a', inFlight: 10 }, { pick: n }]));
    // a wins only when both draws are a, which cannot happen with two distinct servers.
    expect(s.a).toBeUndefined();
    expect(Math.abs(s.b! - 0.5)).toBeLessThan(0.03);
  });

  it('the same seed gives the same sequence', () => {
    const a = run(world('random', ['a', 'b', 'c'], 99), [{ pick: 50 }]);
    const b = run(world('random', ['a', 'b', 'c'], 99), [{ pick: 50 }]);
    expect(a).toEqual(b);
  });
});

describe('guards of the member base', () => {
  it('panic threshold: below it, picks go to every non-draining server', () => {
    const w = world('round-robin', ['a', 'b', 'c'], 1, 50);
    expect(run(w, [{ down: 'a' }, { pick: 2 }]).join('')).toBe('bc'); // 2/3 available: normal
    expect(w.members.panic).toBe(false);
    expect(run(w, [{ down: 'b' }, { pick: 3 }]).join('')).toBe('abc'); // 1/3 < 50%: panic, all
    expect(w.members.panic).toBe(true);
    // a drains: it leaves the count, so 1 of 2 (c) is available, 50% is not below: out of panic.
    expect(run(w, [{ drain: 'a' }, { pick: 2 }]).join('')).toBe('cc');
    expect(w.members.panic).toBe(false);
  });

  it('passive ejection never ejects more than allowed, nor the last server', () => {
    const clock = new ManualClock();
    const members = new Members(
      clock,
      { panicThresholdPercent: 0, maxEjectionPercent: 100, ejectAfterFailures: 2, ejectionCooldownMs: 1000 },
      { onStateChange: () => {} },
    );
    const backends = ['a', 'b'].map((id, i) => {
      const b = new Backend(
        { url: `http://127.0.0.1:${41_000 + i}`, id },
        {
          connections: 1,
          connectTimeoutMs: 1,
          headersTimeoutMs: 1,
          idleTimeoutMs: 1,
          keepAliveTimeoutMs: 1,
          maxResponseHeaderBytes: 16_384,
        },
      );
      pools.push(b);
      members.add(b);
      return b;
    });
    const [a, b] = backends as [Backend, Backend];
    expect(members.recordFailure(a)).toBe(false);
    expect(members.recordFailure(a)).toBe(true); // second consecutive failure ejects a
    expect(members.candidates().map((x) => x.id)).toEqual(['b']);
    members.recordFailure(b);
    expect(members.recordFailure(b)).toBe(false); // b is the last one: never ejected
    expect(members.candidates().map((x) => x.id)).toEqual(['b']);
    clock.tick(1000); // cooldown over: a is back without any timer
    expect(members.candidates().map((x) => x.id)).toEqual(['a', 'b']);
    expect(a.ejections).toBe(1);
    expect(b.ejections).toBe(0);
  });
});
