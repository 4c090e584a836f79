/**
 * The store conformance suite: every SessionStore must pass it unchanged.
 * It speaks only the SessionStore interface, so a store that passes behaves the
 * same under the session core whatever it is built on.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { SessionStore, SessionWrite } from '../../src/session/store.js';
import { generateToken, sessionIdOf } from '../../src/session/token.js';

export interface StoreHarness {
  store: SessionStore;
  /** The clock the store judges expiry by (real time for Redis). */
  now: () => number;
}

const HOUR = 3_600_000;

function newId(): string {
  return sessionIdOf(generateToken());
}

export function createWrite(
  now: number,
  fields: Record<string, unknown> = {},
  extra: Partial<SessionWrite> = {},
): SessionWrite {
  return {
    create: { createdAt: now },
    set: Object.entries(fields).map(([k, v]) => [k, JSON.stringify(v)] as const),
    delete: [],
    expiresAt: now + HOUR,
    absoluteExpiresAt: now + 24 * HOUR,
    now,
    ...extra,
  };
}

function updateWrite(now: number, extra: Partial<SessionWrite>): SessionWrite {
  return { set: [], delete: [], expiresAt: now + HOUR, absoluteExpiresAt: now + 24 * HOUR, now, ...extra };
}

export function storeConformance(name: string, setup: () => StoreHarness): void {
  describe(`store conformance: ${name}`, () => {
    let store: SessionStore;
    let now: () => number;
    beforeEach(() => {
      ({ store, now } = setup());
    });

    it('answers null for a session it does not know', async () => {
      expect(await store.load(newId())).toBeNull();
    });

    it('creates a session with its data and metadata', async () => {
      const id = newId();
      const t = now();
      expect(await store.write(id, createWrite(t, { cart: ['a'], n: 1 }))).toEqual({ status: 'ok' });
      const loaded = await store.load(id);
      expect(loaded).not.toBeNull();
      expect(Object.fromEntries(loaded!.data)).toEqual({ cart: '["a"]', n: '1' });
      expect(loaded!.createdAt).toBe(t);
      expect(loaded!.touchedAt).toBe(t);
      expect(loaded!.absoluteExpiresAt).toBe(t + 24 * HOUR);
      expect(loaded!.userId).toBeNull();
    });

    it('refuses to create over an existing session', async () => {
      const id = newId();
      await store.write(id, createWrite(now(), { a: 1 }));
      expect(await store.write(id, createWrite(now(), { b: 2 }))).toEqual({ status: 'exists' });
      expect(Object.fromEntries((await store.load(id))!.data)).toEqual({ a: '1' });
    });

    it('never re-creates a session by updating it (logout sticks)', async () => {
      const id = newId();
      await store.write(id, createWrite(now(), { a: 1 }));
      expect(await store.destroy(id)).toBe(true);
      expect(await store.write(id, updateWrite(now(), { set: [['a', '2']] }))).toEqual({ status: 'gone' });
      expect(await store.load(id)).toBeNull();
      expect(await store.touch(id, now(), now() + HOUR)).toBe(false);
      expect(await store.load(id)).toBeNull();
      expect(await store.increment(id, 'n', 1)).toEqual({ status: 'gone' });
      expect(await store.load(id)).toBeNull();
    });

    it('writes only the delta: other keys are untouched', async () => {
      const id = newId();
      await store.write(id, createWrite(now(), { a: 1, b: 2, c: 3 }));
      await store.write(id, updateWrite(now(), { set: [['b', '20']], delete: ['c'] }));
      expect(Object.fromEntries((await store.load(id))!.data)).toEqual({ a: '1', b: '20' });
    });

    it('lands concurrent writes of different keys', async () => {
      const id = newId();
      await store.write(id, createWrite(now()));
      await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          store.write(id, updateWrite(now(), { set: [[`k${i}`, String(i)]] })),
        ),
      );
      expect((await store.load(id))!.data.size).toBe(50);
    });

    it('compare-and-set: applies when the expectation holds, reports the current value when not', async () => {
      const id = newId();
      await store.write(id, createWrite(now(), { n: 1 }));
      expect(await store.write(id, updateWrite(now(), { set: [['n', '2']], expect: [['n', '1']] }))).toEqual({
        status: 'ok',
      });
      expect(await store.write(id, updateWrite(now(), { set: [['n', '3']], expect: [['n', '1']] }))).toEqual({
        status: 'conflict',
        key: 'n',
        current: '2',
      });
      expect(await store.write(id, updateWrite(now(), { set: [['m', '1']], expect: [['m', '5']] }))).toEqual({
        status: 'conflict',
        key: 'm',
        current: null,
      });
      expect(await store.write(id, updateWrite(now(), { set: [['m', '1']], expect: [['m', null]] }))).toEqual(
        {
          status: 'ok',
        },
      );
      expect(Object.fromEntries((await store.load(id))!.data)).toEqual({ n: '2', m: '1' });
    });

    it('increments atomically, counting an absent key as 0', async () => {
      const id = newId();
      await store.write(id, createWrite(now(), { text: 'x', f: 0.1 }));
      await store.write(id, { ...createWrite(now()), create: undefined, set: [['garbage', '{not json']] });
      const results = await Promise.all(Array.from({ length: 40 }, () => store.increment(id, 'n', 1)));
      expect(results.map((r) => (r.status === 'ok' ? r.value : -1)).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 40 }, (_, i) => i + 1),
      );
      expect((await store.load(id))!.data.get('n')).toBe('40');
      expect(await store.increment(id, 'f', 0.2)).toEqual({ status: 'ok', value: 0.1 + 0.2 });
      expect(await store.increment(id, 'text', 1)).toEqual({ status: 'not-a-number' });
      expect((await store.load(id))!.data.get('text')).toBe('"x"');
      // Unreadable text reads as absent, so it counts as 0.
      expect(await store.increment(id, 'garbage', 5)).toEqual({ status: 'ok', value: 5 });
    });

    it('touches a live session and keeps its data', async () => {
      const id = newId();
      const t = now();
      await store.write(id, createWrite(t, { a: 1 }));
      expect(await store.touch(id, t + 1000, t + HOUR)).toBe(true);
      const loaded = await store.load(id);
      expect(loaded!.touchedAt).toBe(t + 1000);
      expect(loaded!.data.get('a')).toBe('1');
    });

    it('forgets a session whose expiry has passed', async () => {
      const id = newId();
      const t = now();
      await store.write(id, createWrite(t, { a: 1 }, { expiresAt: t - 1 }));
      expect(await store.load(id)).toBeNull();
      const other = newId();
      await store.write(other, createWrite(t, { a: 1 }));
      await store.touch(other, t, t - 1);
      expect(await store.load(other)).toBeNull();
    });

    it('destroys, and reports whether there was anything to destroy', async () => {
      const id = newId();
      await store.write(id, createWrite(now(), { a: 1 }));
      expect(await store.destroy(id)).toBe(true);
      expect(await store.load(id)).toBeNull();
      expect(await store.destroy(id)).toBe(false);
    });

    it('keeps a destroyed session readable during a grace window, unbound from its user', async () => {
      const id = newId();
      await store.write(id, createWrite(now(), { a: 1 }, { userId: 'grace-user' }));
      expect(await store.destroy(id, { graceMs: 60_000 })).toBe(true);
      expect((await store.load(id))?.data.get('a')).toBe('1');
      expect(await store.listByUser('grace-user', now())).toEqual([]);
    });

    it('indexes sessions per user: list, revoke one, revoke all but one', async () => {
      const user = `u-${newId().slice(0, 8)}`;
      const ids = [newId(), newId(), newId()];
      for (const id of ids) await store.write(id, createWrite(now(), { a: 1 }, { userId: user }));
      const listed = await store.listByUser(user, now());
      expect(listed.map((s) => s.id).sort()).toEqual([...ids].sort());
      expect(listed[0]!.createdAt).toBeGreaterThan(0);

      expect(await store.destroyForUser('someone-else', ids[0]!)).toBe(false);
      expect(await store.load(ids[0]!)).not.toBeNull();
      expect(await store.destroyForUser(user, ids[0]!)).toBe(true);
      expect(await store.load(ids[0]!)).toBeNull();

      expect(await store.destroyByUser(user, { except: ids[2]! })).toBe(1);
      expect(await store.load(ids[1]!)).toBeNull();
      expect(await store.load(ids[2]!)).not.toBeNull();
      expect((await store.listByUser(user, now())).map((s) => s.id)).toEqual([ids[2]]);
    });

    it('moves the index entry when a session changes user, and drops it on unbind', async () => {
      const id = newId();
      const [alice, bob] = [`alice-${id.slice(0, 6)}`, `bob-${id.slice(0, 6)}`];
      await store.write(id, createWrite(now(), {}, { userId: alice }));
      await store.write(id, updateWrite(now(), { userId: bob }));
      expect(await store.listByUser(alice, now())).toEqual([]);
      expect((await store.listByUser(bob, now())).map((s) => s.id)).toEqual([id]);
      expect((await store.load(id))!.userId).toBe(bob);
      await store.write(id, updateWrite(now(), { userId: null }));
      expect(await store.listByUser(bob, now())).toEqual([]);
      expect((await store.load(id))!.userId).toBeNull();
    });

    it('keeps the user index exact under concurrent logins and logouts, and prunes dead sessions', async () => {
      const user = `busy-${newId().slice(0, 8)}`;
      const ids = Array.from({ length: 40 }, newId);
      await Promise.all(ids.map((id) => store.write(id, createWrite(now(), { a: 1 }, { userId: user }))));
      await Promise.all(ids.slice(0, 20).map((id) => store.destroy(id)));
      // Two sessions die without a logout: one by idle expiry, one by absolute expiry.
      const t = now();
      await store.touch(ids[20]!, t, t - 1);
      const expired = newId();
      await store.write(
        expired,
        createWrite(
          t - 2 * HOUR,
          { a: 1 },
          { userId: user, absoluteExpiresAt: t - HOUR, expiresAt: t + HOUR },
        ),
      );
      const listed = (await store.listByUser(user, now())).map((s) => s.id).sort();
      expect(listed).toEqual(ids.slice(21).sort());
      expect(await store.destroyByUser(user)).toBe(19);
      expect(await store.listByUser(user, now())).toEqual([]);
    });
  });
}
