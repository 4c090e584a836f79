/**
 * One suite over the four adapters (node:http, Express, Fastify, web Request): who may
 * subscribe is decided by the session, SSE and long-poll deliver, WebSocket too where the
 * adapter offers it; presence in a room follows its connections.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { realtimeRoute, realtimeWebSocket } from '../../src/adapters/express/index.js';
import { fastifyRealtime } from '../../src/adapters/fastify/index.js';
import { realtimeHandler, realtimeUpgrade } from '../../src/adapters/node/index.js';
import { realtimeResponse } from '../../src/adapters/web/index.js';
import { createRealtime, type Realtime } from '../../src/realtime/index.js';
import { createSessions, type SessionManager } from '../../src/session/index.js';
import { redisStore } from '../../src/stores/redis/index.js';
import { describeRedis, RedisServer } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/wait.js';

interface App {
  url: string;
  websocket: boolean;
  close(): Promise<void>;
}

async function listening(server: Server, websocket: boolean): Promise<App> {
  if (!server.listening) {
    server.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
  }
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    websocket,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

const apps: Record<string, (realtime: Realtime) => Promise<App>> = {
  node: (realtime) => {
    const server = createServer(realtimeHandler(realtime));
    server.on('upgrade', realtimeUpgrade(realtime));
    return listening(server, true);
  },
  express: (realtime) => {
    const app = express();
    app.get('/live', realtimeRoute(realtime));
    const server = createServer(app);
    server.on('upgrade', realtimeWebSocket(realtime));
    return listening(server, true);
  },
  fastify: async (realtime) => {
    const app = Fastify();
    await app.register(fastifyRealtime, { realtime, path: '/live' });
    await app.listen({ port: 0, host: '127.0.0.1' });
    return listening(app.server, true);
  },
  web: (realtime) =>
    listening(
      createAdaptorServer({ fetch: (request) => realtimeResponse(realtime, request) }) as Server,
      false,
    ),
};

describeRedis('realtime adapters', () => {
  let redis: RedisServer;
  let sessions: SessionManager;
  let realtime: Realtime;
  let ann: { cookie: string; sessionId: string };

  beforeAll(async () => {
    redis = await RedisServer.start();
    sessions = createSessions({
      store: redisStore({ url: redis.url, commandTimeout: 5000 }),
      cookie: { secure: false },
    });
    realtime = createRealtime({
      redis: { url: redis.url },
      sessions,
      authorizeRoom: (name, who) => name === 'lobby' && who.userId !== null,
      presenceTtlMs: 60_000,
    });
    const session = sessions.fromCookie(null, { secure: false });
    await session.bindUser('ann');
    const { setCookie } = await session.commit();
    ann = { cookie: setCookie!.split(';')[0]!, sessionId: session.id! };
  });

  afterAll(async () => {
    await realtime.close({ windowMs: 1 });
    await sessions.close();
    await redis.stop();
  });

  async function sse(
    url: string,
    cookie?: string,
  ): Promise<{ status: number; until(text: string): Promise<string>; stop(): void }> {
    const controller = new AbortController();
    const response = await fetch(url, {
      headers: { accept: 'text/event-stream', ...(cookie ? { cookie } : {}) },
      signal: controller.signal,
    });
    let text = '';
    const reader = response.body!.getReader();
    return {
      status: response.status,
      until: async (wanted) => {
        while (!text.includes(wanted)) text += new TextDecoder().decode((await reader.read()).value);
        return text;
      },
      stop: () => controller.abort(),
    };
  }

  for (const [name, start] of Object.entries(apps)) {
    it(`${name}: a user channel only for that user's session, a session channel only for that session`, async () => {
      const app = await start(realtime);
      try {
        expect((await sse(`${app.url}/live?channel=user:ann`)).status).toBe(403);
        expect((await sse(`${app.url}/live?channel=user:bob`, ann.cookie)).status).toBe(403);
        expect((await sse(`${app.url}/live?channel=session:someone-else`, ann.cookie)).status).toBe(403);
        expect((await sse(`${app.url}/live?channel=room:lobby`)).status).toBe(403);
        const own = await sse(`${app.url}/live?channel=user:ann`, ann.cookie);
        expect(own.status).toBe(200);
        await own.until('event: ready');
        const { epoch, offset } = await realtime.publish('user:ann', { app: name });
        expect(await own.until(`{"app":"${name}"}`)).toContain(
          `id: ${epoch}:${offset}\ndata: {"app":"${name}"}`,
        );
        own.stop();
        const mine = await sse(`${app.url}/live?channel=session:${ann.sessionId}`, ann.cookie);
        expect(mine.status).toBe(200);
        mine.stop();
        const poll = await fetch(`${app.url}/live?channel=user:ann&epoch=${epoch}&since=${offset - 1}`, {
          headers: { cookie: ann.cookie },
        });
        expect(await poll.json()).toEqual({
          epoch,
          offset,
          reset: false,
          messages: [{ offset, data: { app: name } }],
        });
      } finally {
        await app.close();
      }
    });
  }

  for (const [name, start] of Object.entries(apps).filter(([n]) => n !== 'web')) {
    it(`${name}: WebSocket delivers in order, refuses before the handshake, and holds presence`, async () => {
      const app = await start(realtime);
      const ws = `${app.url.replace('http', 'ws')}/live`;
      try {
        const refused = new WebSocket(`${ws}?channel=user:bob`, { headers: { cookie: ann.cookie } });
        const status = await new Promise((resolve) =>
          refused.once('unexpected-response', (_, res) => resolve(res.statusCode)),
        );
        expect(status).toBe(403);
        const channel = 'room:lobby';
        const { epoch, offset } = await realtime.publish(channel, 'before');
        const frames: { type: string; offset?: number; data?: unknown }[] = [];
        const client = new WebSocket(`${ws}?channel=${channel}&epoch=${epoch}&since=${offset - 1}`, {
          headers: { cookie: ann.cookie },
        });
        client.on('message', (raw) => frames.push(JSON.parse(String(raw))));
        await waitFor(() => frames.length === 2);
        await realtime.publish(channel, 'after');
        await waitFor(() => frames.length === 3);
        expect(frames).toMatchObject([
          { type: 'ready', offset: offset - 1 },
          { type: 'message', offset, data: 'before' },
          { type: 'message', offset: offset + 1, data: 'after' },
        ]);
        await waitFor(async () => (await realtime.presence('lobby')).includes('ann'), {
          what: 'ann present',
        });
        client.close();
        await waitFor(async () => (await realtime.presence('lobby')).length === 0, { what: 'ann gone' });
      } finally {
        await app.close();
      }
    });
  }
});
