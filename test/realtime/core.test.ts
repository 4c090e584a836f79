/** The channel log in one process against a real redis-server: offsets, resume, reset, outage. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { realtimeHandler } from '../../src/adapters/node/realtime.js';
import { createRealtime, type Realtime, type RealtimeEvent } from '../../src/realtime/index.js';
import { describeRedis, RedisServer } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/wait.js';

describeRedis('realtime core', () => {
  let redis: RedisServer;
  const open: Realtime[] = [];
  const make = (options: Partial<Parameters<typeof createRealtime>[0]> = {}) => {
    const realtime = createRealtime({ redis: { url: redis.url }, authorizeRoom: () => true, ...options });
    open.push(realtime);
    return realtime;
  };
  let seq = 0;
  const room = () => `room:t${++seq}-${Date.now()}`;

  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterAll(async () => {
    await Promise.all(open.map((r) => r.close({ windowMs: 1 })));
    await redis.stop();
  });

  it('gives contiguous offsets from 1 and delivers them live to another instance, in order', async () => {
    const a = make();
    const b = make();
    const channel = room();
    const got: RealtimeEvent[] = [];
    await b.subscribe(channel, {}, (e) => got.push(e));
    const offsets: number[] = [];
    for (let i = 1; i <= 20; i++) offsets.push((await a.publish(channel, { i })).offset);
    expect(offsets).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    await waitFor(() => got.length === 21, { what: 'ready and 20 messages' });
    expect(got[0]).toMatchObject({ type: 'ready', offset: 0 });
    expect(got.slice(1).map((e) => (e.type === 'message' ? JSON.parse(e.data).i : null))).toEqual(
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
  });

  it('resumes from an offset with the history, then live, without a duplicate or a gap', async () => {
    const a = make();
    const channel = room();
    let epoch = '';
    for (let i = 1; i <= 10; i++) epoch = (await a.publish(channel, i)).epoch;
    const got: number[] = [];
    const live = a.publish(channel, 11); // races with the subscription below
    await a.subscribe(channel, { epoch, offset: 4 }, (e) => {
      if (e.type === 'message') got.push(JSON.parse(e.data));
    });
    await live;
    await a.publish(channel, 12);
    await waitFor(() => got.length === 8);
    expect(got).toEqual([5, 6, 7, 8, 9, 10, 11, 12]);
  });

  it('sends an explicit reset for an offset older than the history, never a gap', async () => {
    const a = make({ history: { maxLength: 5 } });
    const channel = room();
    let epoch = '';
    for (let i = 1; i <= 200; i++) epoch = (await a.publish(channel, i)).epoch;
    const got: RealtimeEvent[] = [];
    await a.subscribe(channel, { epoch, offset: 3 }, (e) => got.push(e));
    expect(got).toEqual([{ type: 'reset', epoch, offset: 200 }]);
    await a.publish(channel, 201);
    await waitFor(() => got.length === 2);
    expect(got[1]).toMatchObject({ type: 'message', offset: 201, data: '201' });
  });

  it('sends a reset when the epoch changed (the channel was lost and began again)', async () => {
    const a = make();
    const channel = room();
    const { epoch } = await a.publish(channel, 'old');
    const keys = a.keys(channel);
    const { createClient } = await import('redis');
    const client = createClient({ url: redis.url });
    await client.connect();
    await client.del([keys.meta, keys.log]);
    await client.close();
    const fresh = await a.publish(channel, 'new');
    expect(fresh.epoch).not.toBe(epoch);
    expect(fresh.offset).toBe(1);
    const got: RealtimeEvent[] = [];
    await a.subscribe(channel, { epoch, offset: 0 }, (e) => got.push(e));
    expect(got).toEqual([{ type: 'reset', epoch: fresh.epoch, offset: 1 }]);
  });

  it('trims history by age at the next publish', async () => {
    const a = make({ history: { maxAgeMs: 50 } });
    const channel = room();
    let epoch = '';
    for (let i = 1; i <= 3; i++) epoch = (await a.publish(channel, i)).epoch;
    await waitFor(
      async () => {
        await a.publish(channel, 'tick');
        const got: RealtimeEvent[] = [];
        const sub = await a.subscribe(channel, { epoch, offset: 1 }, (e) => got.push(e));
        sub.close();
        return got[0]?.type === 'reset';
      },
      { what: 'the first entries to age out' },
    );
  });

  it('serves SSE with id = epoch:offset and resumes from Last-Event-ID', async () => {
    const a = make();
    const server: Server = createServer(realtimeHandler(a));
    server.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const channel = room();
    const first = await a.publish(channel, 'one');
    await a.publish(channel, 'two');
    const controller = new AbortController();
    const response = await fetch(`${base}/?channel=${channel}`, {
      headers: { accept: 'text/event-stream', 'last-event-id': `${first.epoch}:1` },
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const reader = response.body!.getReader();
    let text = '';
    while (!text.includes('data: "two"')) text += new TextDecoder().decode((await reader.read()).value);
    expect(text).toMatch(/^retry: \d+\n\n/);
    expect(text).toContain(`id: ${first.epoch}:2\ndata: "two"\n\n`);
    expect(text).not.toContain('"one"');
    controller.abort();
    // Long-poll: stateless, from an offset.
    const poll = await (await fetch(`${base}/?channel=${channel}&epoch=${first.epoch}&since=0`)).json();
    expect(poll).toEqual({
      epoch: first.epoch,
      offset: 2,
      reset: false,
      messages: [
        { offset: 1, data: 'one' },
        { offset: 2, data: 'two' },
      ],
    });
    const waiting = fetch(`${base}/?channel=${channel}&epoch=${first.epoch}&since=2`).then((r) => r.json());
    await waitFor(() => a.subscribers().connections === 1);
    await a.publish(channel, 'three');
    expect(await waiting).toMatchObject({ offset: 3, messages: [{ offset: 3, data: 'three' }] });
    server.closeAllConnections();
    server.close();
  });

  it('refuses a bad channel and a channel the session may not have', async () => {
    const a = make({ authorizeRoom: (name) => name === 'open' });
    const server: Server = createServer(realtimeHandler(a));
    server.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const bad = await fetch(`${base}/?channel=nope`);
    expect(bad.status).toBe(400);
    expect((await bad.json()).code).toBe('UNPINNED_ERR_REALTIME_INVALID_CHANNEL');
    const closed = await fetch(`${base}/?channel=room:secret`, { headers: { accept: 'text/event-stream' } });
    expect(closed.status).toBe(403);
    expect((await fetch(`${base}/?channel=user:1`)).status).toBe(403);
    expect((await fetch(`${base}/?channel=room:open`)).status).toBe(200);
    server.close();
  });

  it('while Redis is down: publish rejects with a typed error, subscribers get an error event', async () => {
    const own = await RedisServer.start();
    const a = createRealtime({ redis: { url: own.url }, authorizeRoom: () => true, commandTimeoutMs: 300 });
    const channel = room();
    await a.publish(channel, 1);
    const got: RealtimeEvent[] = [];
    await a.subscribe(channel, {}, (e) => got.push(e));
    await own.stop();
    await waitFor(() => got.some((e) => e.type === 'error'), { what: 'an error event' });
    expect(got.at(-1)).toMatchObject({ type: 'error', code: 'UNPINNED_ERR_REALTIME_UNAVAILABLE' });
    await expect(a.publish(channel, 2)).rejects.toMatchObject({
      code: 'UNPINNED_ERR_REALTIME_UNAVAILABLE',
      statusCode: 503,
    });
    await a.close({ windowMs: 1 });
  });
});
