/**
 * OpenTelemetry traces through the real parts: a client request goes through the balancer to an
 * Express app with unpinned sessions on a real Redis, and the SDK's in-memory exporter sees one
 * trace per request: balancer SERVER span → balancer CLIENT span → the app's span (continued
 * from the `traceparent` the balancer sent) → session load and commit spans. No attribute of any
 * span holds the token or the cookie value.
 */
import type { AddressInfo } from 'node:net';
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import express from 'express';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { unpinned } from '../../src/adapters/express/index.js';
import { type Balancer, createBalancer } from '../../src/balancer/index.js';
import { createSessions, type SessionManager } from '../../src/session/index.js';
import { type RedisStore, redisStore } from '../../src/stores/redis/index.js';
import { describeRedis, RedisServer } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/wait.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

let redis: RedisServer;
let store: RedisStore;
let sessions: SessionManager;
let lb: Balancer;
let lbUrl: string;
const servers: import('node:http').Server[] = [];

/** The app's own HTTP instrumentation, as @opentelemetry/instrumentation-http would do it. */
function appTracing(): express.RequestHandler {
  const tracer = trace.getTracer('test-app');
  return (req, res, next) => {
    const parent = propagation.extract(context.active(), req.headers);
    tracer.startActiveSpan(`${req.method} ${req.path}`, { kind: SpanKind.SERVER }, parent, (span) => {
      res.on('finish', () => span.end());
      next();
    });
  };
}

async function startApp(name: string): Promise<string> {
  const app = express();
  app.use(appTracing());
  app.use(unpinned(sessions));
  app.post('/login', async (req, res) => {
    await req.session.regenerate();
    await req.session.set('user', 'ann');
    res.json({ server: name });
  });
  app.get('/cart', async (req, res) => {
    res.json({ server: name, user: await req.session.get('user') });
  });
  app.post('/views', async (req, res) => {
    res.json({ n: await req.session.increment('views') });
  });
  app.post('/logout', async (req, res) => {
    await req.session.destroy();
    res.json({ ok: true });
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describeRedis('OpenTelemetry: one trace per request through the balancer into the app', () => {
  beforeAll(async () => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(provider);
    redis = await RedisServer.start();
    store = redisStore({ url: redis.url, onError: () => {} });
    await store.ready();
    sessions = createSessions({ store });
    const backends = [await startApp('a'), await startApp('b')];
    lb = createBalancer({ backends, strategy: 'round-robin' });
    lbUrl = `http://127.0.0.1:${(await lb.listen(0)).port}`;
  });

  afterAll(async () => {
    await lb?.close();
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    }
    await sessions?.close();
    await redis?.close();
    await provider.shutdown();
    trace.disable();
    propagation.disable();
    context.disable();
  });

  it('links balancer server span, client span, app span and session spans; no token in any attribute', async () => {
    const login = await fetch(`${lbUrl}/login`, { method: 'POST' });
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const token = cookie.slice(cookie.indexOf('=') + 1);
    expect(token.length).toBeGreaterThan(40);
    // The client's own trace: the balancer continues it.
    const clientTrace = '0af7651916cd43dd8448eb211c80319c';
    const cart = await fetch(`${lbUrl}/cart`, {
      headers: { cookie, traceparent: `00-${clientTrace}-b7ad6b7169203331-01` },
    });
    expect(((await cart.json()) as { user: string }).user).toBe('ann');
    await fetch(`${lbUrl}/views`, { method: 'POST', headers: { cookie } });
    await fetch(`${lbUrl}/logout`, { method: 'POST', headers: { cookie } });

    const spans: ReadableSpan[] = await waitFor(
      () => {
        const all = exporter.getFinishedSpans();
        const servers = all.filter((s) => s.instrumentationScope.name === 'unpinned.balancer');
        return servers.filter((s) => s.kind === SpanKind.SERVER).length === 4 && all.length >= 20
          ? all
          : null;
      },
      { what: 'the spans of four requests' },
    );
    const byTrace = new Map<string, ReadableSpan[]>();
    for (const s of spans) {
      const id = s.spanContext().traceId;
      byTrace.set(id, [...(byTrace.get(id) ?? []), s]);
    }
    // One trace per request.
    expect(byTrace.size).toBe(4);
    expect(byTrace.has(clientTrace)).toBe(true);

    const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
    const expectChain = (traceSpans: ReadableSpan[], sessionOps: string[]) => {
      const lbServer = traceSpans.find(
        (s) => s.kind === SpanKind.SERVER && s.instrumentationScope.name === 'unpinned.balancer',
      )!;
      const lbClient = traceSpans.find((s) => s.kind === SpanKind.CLIENT)!;
      const app = traceSpans.find((s) => s.instrumentationScope.name === 'test-app')!;
      expect(lbServer.instrumentationScope.name).toBe('unpinned.balancer');
      expect(parentOf(lbClient)).toBe(lbServer.spanContext().spanId);
      expect(parentOf(app)).toBe(lbClient.spanContext().spanId);
      for (const op of sessionOps) {
        const span = traceSpans.find((s) => s.name === `unpinned.session.${op}`);
        expect(span, op).toBeDefined();
        expect(span!.attributes['unpinned.session.store']).toBe('redis');
        // Directly under the app's span, or under another session span of the same request.
        const parent = traceSpans.find((s) => s.spanContext().spanId === parentOf(span!));
        expect([app, ...traceSpans.filter((s) => s.name.startsWith('unpinned.session.'))]).toContain(parent);
      }
      return { lbServer, lbClient, app };
    };

    const cartSpans = byTrace.get(clientTrace)!;
    const { lbServer, lbClient } = expectChain(cartSpans, ['load', 'commit']);
    expect(parentOf(lbServer)).toBe('b7ad6b7169203331');
    expect(lbServer.attributes).toMatchObject({
      'http.request.method': 'GET',
      'url.path': '/cart',
      'http.response.status_code': 200,
      'unpinned.lb.retries': 0,
    });
    expect(lbServer.attributes['unpinned.lb.server']).toBe(lbClient.attributes['unpinned.lb.server']);
    expect(lbClient.attributes['http.response.status_code']).toBe(200);
    const load = cartSpans.find((s) => s.name === 'unpinned.session.load')!;
    expect(load.attributes['unpinned.session.hit']).toBe(true);
    expect(load.attributes['unpinned.session.bytes']).toBeGreaterThan(0);
    expect(parentOf(load)).toBe(
      cartSpans.find((s) => s.instrumentationScope.name === 'test-app')!.spanContext().spanId,
    );

    const others = [...byTrace.values()].filter((t) => t !== cartSpans);
    const ops = others.map((t) => t.filter((s) => s.name.startsWith('unpinned.session.')).map((s) => s.name));
    expect(ops.flat()).toEqual(
      expect.arrayContaining([
        'unpinned.session.regenerate',
        'unpinned.session.increment',
        'unpinned.session.destroy',
        'unpinned.session.commit',
      ]),
    );
    for (const t of others) expectChain(t, []);

    // No span attribute holds the token, the cookie value or the session id (its hash).
    const { sessionIdOf } = await import('../../src/session/index.js');
    const secrets = [token, decodeURIComponent(token), sessionIdOf(token), cookie];
    for (const s of spans) {
      for (const [key, value] of Object.entries(s.attributes)) {
        for (const secret of secrets) expect(String(value), `${s.name} ${key}`).not.toContain(secret);
      }
      expect(s.name).not.toContain(token);
    }
  });
});
