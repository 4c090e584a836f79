/**
 * The cart app on Hono, through the web-standard adapter, with a session
 * middleware of a few lines. Run several copies behind any balancer:
 *   PORT=3001 REDIS_URL=redis://127.0.0.1:6379 node dist/examples/hono-cart/app.js
 */
import { pathToFileURL } from 'node:url';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { createSessions, type Session, type SessionManager, UnpinnedError } from 'unpinned';
import { redisStore } from 'unpinned/redis';
import { applySession, sessionErrorResponse, sessionFromRequest } from 'unpinned/web';

type Env = { Variables: { session: Session } };

export function createApp(sessions: SessionManager): Hono<Env> {
  const app = new Hono<Env>();

  // The session middleware: a lazy session per request; after the handler, the
  // commit, then the response (with its Set-Cookie), or a 503 if the store is down.
  app.use(async (c, next) => {
    const session = sessionFromRequest(sessions, c.req.raw);
    c.set('session', session);
    await next();
    c.res =
      c.error instanceof UnpinnedError ? sessionErrorResponse(c.error) : await applySession(session, c.res);
  });

  app.get('/api/state', async (c) => {
    const session = c.get('session');
    return c.json({ user: (await session.get('user')) ?? null, cart: (await session.get('cart')) ?? [] });
  });

  app.post('/login', async (c) => {
    const { name } = await c.req.json<{ name?: string }>();
    const user = String(name ?? '').slice(0, 40) || 'guest';
    const session = c.get('session');
    await session.regenerate();
    await session.bindUser(user);
    await session.set('user', user);
    return c.json({ user });
  });

  app.post('/cart', async (c) => {
    const { item } = await c.req.json<{ item: string }>();
    const cart = await c.get('session').update<string[]>('cart', (cart = []) => [...cart, String(item)]);
    return c.json({ cart });
  });

  app.post('/logout', async (c) => {
    await c.get('session').destroy();
    return c.json({ ok: true });
  });
  return app;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const sessions = createSessions({
    store: redisStore({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' }),
  });
  serve(
    { fetch: createApp(sessions).fetch, port: Number(process.env.PORT ?? 3000), hostname: '127.0.0.1' },
    (info) => console.log(`hono cart listening on http://127.0.0.1:${info.port}`),
  );
}
