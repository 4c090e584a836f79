/**
 * The cart app on Fastify, with the unpinned plugin and the app's own ioredis
 * client (the one a Fastify app usually already has). Run several copies:
 *   PORT=3001 REDIS_URL=redis://127.0.0.1:6379 node dist/examples/fastify-cart/app.js
 */
import { pathToFileURL } from 'node:url';
import Fastify, { type FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { createSessions, type SessionManager } from 'unpinned';
import { unpinned } from 'unpinned/fastify';
import { redisStore } from 'unpinned/redis';

export async function buildApp(sessions: SessionManager): Promise<FastifyInstance> {
  const app = Fastify();
  await app.register(unpinned, { sessions });

  app.get('/api/state', async (request) => ({
    user: (await request.session.get('user')) ?? null,
    cart: (await request.session.get('cart')) ?? [],
  }));

  app.post<{ Body: { name?: string } }>('/login', async (request) => {
    const user = String(request.body?.name ?? '').slice(0, 40) || 'guest';
    await request.session.regenerate();
    await request.session.bindUser(user);
    await request.session.set('user', user);
    return { user };
  });

  app.post<{ Body: { item: string } }>('/cart', async (request) => ({
    cart: await request.session.update<string[]>('cart', (cart = []) => [...cart, String(request.body.item)]),
  }));

  app.post('/logout', async (request) => {
    await request.session.destroy();
    return { ok: true };
  });
  return app;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // ioredis's offline queue can stay on: the store checks readiness and fails fast.
  // No re-sends after a reconnect (the store refuses them: an increment whose
  // reply was lost would run twice), and socketTimeout replaces a connection
  // that went half-open, which nothing else would notice.
  const client = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
    autoResendUnfulfilledCommands: false,
    socketTimeout: 500,
  });
  const sessions = createSessions({ store: redisStore({ client }) });
  const app = await buildApp(sessions);
  app.addHook('onClose', async () => void client.disconnect());
  await app.listen({ port: Number(process.env.PORT ?? 3000), host: '127.0.0.1' });
  console.log(`fastify cart listening on ${app.listeningOrigin}`);
}
