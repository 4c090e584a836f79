/**
 * One benchmark app server, in its own process so the load generator does not
 * share its event loop: `node session-app.js <variant> <redisUrl>`. Prints its
 * port on stdout. Variants: none (no sessions), bare (one hand-written HGETALL
 * per request: the floor any Redis session costs), unpinned, express-session
 * (express-session + connect-redis, their recommended settings).
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { RedisStore as ConnectRedisStore } from 'connect-redis';
import express, { type RequestHandler } from 'express';
import expressSession from 'express-session';
import { createClient } from 'redis';
import { unpinned } from '../src/adapters/express/index.js';
import { createSessions } from '../src/session/manager.js';
import { redisStore } from '../src/stores/redis/index.js';

type Variant = 'none' | 'bare' | 'unpinned' | 'express-session';
const [variant, redisUrl] = process.argv.slice(2) as [Variant, string];
const app = express();

// Reads and writes are the same small shop actions in every variant.
interface Actions {
  middleware?: RequestHandler;
  login(req: express.Request): Promise<void>;
  read(req: express.Request): Promise<unknown>;
  write(req: express.Request): Promise<void>;
}

async function actions(): Promise<Actions> {
  if (variant === 'none') {
    return { login: async () => {}, read: async () => ({ user: 'ann', cart: [] }), write: async () => {} };
  }
  if (variant === 'bare') {
    // The floor: a hand-written middleware doing exactly one HGETALL per request, of a hash of
    // the same fields and sizes as unpinned's (its metadata, user, cart), keyed by the cookie's
    // id, whose values it decodes and returns the same way. Less would not be a session.
    const client = createClient({ url: redisUrl, commandOptions: { timeout: 0 } });
    await client.connect();
    const cookieOf = (req: express.Request) => /sid=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
    return {
      login: async (req) => {
        const id = randomBytes(32).toString('base64url');
        const now = Date.now();
        await client.hSet(`bare:${id}`, {
          $m: `${now}:${now}:${now + 86_400_000}`,
          user: JSON.stringify('ann'),
          cart: JSON.stringify(['sku-1', 'sku-2']),
        });
        req.res!.setHeader('set-cookie', `sid=${id}; Path=/; HttpOnly; SameSite=Lax`);
      },
      read: async (req) => {
        const data = await client.hGetAll(`bare:${cookieOf(req)}`);
        return {
          user: data.user === undefined ? undefined : JSON.parse(data.user),
          cart: data.cart === undefined ? undefined : JSON.parse(data.cart),
        };
      },
      write: async (req) => {
        await client.hSet(`bare:${cookieOf(req)}`, 'lastSeen', JSON.stringify(Date.now()));
      },
    };
  }
  if (variant === 'unpinned') {
    const store = redisStore({ url: redisUrl });
    await store.ready();
    const sessions = createSessions({ store, cookie: { secure: false } });
    return {
      middleware: unpinned(sessions),
      login: async (req) => {
        await req.session.set('user', 'ann');
        await req.session.set('cart', ['sku-1', 'sku-2']);
      },
      read: async (req) => ({ user: await req.session.get('user'), cart: await req.session.get('cart') }),
      write: (req) => req.session.set('lastSeen', Date.now()),
    };
  }
  const client = createClient({ url: redisUrl });
  await client.connect();
  type Legacy = { user?: string; cart?: string[]; lastSeen?: number };
  const legacy = (req: express.Request) => (req as unknown as { session: Legacy }).session;
  return {
    middleware: expressSession({
      store: new ConnectRedisStore({ client }),
      secret: 'benchmark secret',
      resave: false,
      saveUninitialized: false,
      cookie: { maxAge: 86_400_000 },
    }) as unknown as RequestHandler,
    login: async (req) => {
      legacy(req).user = 'ann';
      legacy(req).cart = ['sku-1', 'sku-2'];
    },
    read: async (req) => ({ user: legacy(req).user, cart: legacy(req).cart }),
    write: async (req) => {
      legacy(req).lastSeen = Date.now();
    },
  };
}

const act = await actions();
if (act.middleware) app.use(act.middleware);
app.post('/login', async (req, res) => {
  await act.login(req);
  res.json({ ok: true });
});
app.get('/cart', async (req, res) => {
  res.json(await act.read(req));
});
app.post('/seen', async (req, res) => {
  await act.write(req);
  res.json({ ok: true });
});
const server = app.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${(server.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
