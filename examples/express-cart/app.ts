/**
 * A small cart app written against the public API, as a user would write it.
 * Run several copies behind any balancer: every copy sees every session.
 *   PORT=3001 REDIS_URL=redis://127.0.0.1:6379 node dist/examples/express-cart/app.js
 */
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createSessions, type SessionStore } from 'unpinned';
import { unpinned } from 'unpinned/express';
import { memoryStore } from 'unpinned/memory';
import { redisStore } from 'unpinned/redis';

const server = process.env.SERVER_NAME ?? `app-${process.pid}`;
const store: SessionStore = process.env.REDIS_URL
  ? redisStore({ url: process.env.REDIS_URL })
  : memoryStore();
const sessions = createSessions({ store });
const app = express();
app.use(express.urlencoded({ extended: false }));
app.use(unpinned(sessions));
app.use((_req, res, next) => {
  res.set('x-served-by', server);
  next();
});

app.get('/', async (req, res) => {
  const user = await req.session.get<string>('user');
  const cart = (await req.session.get<string[]>('cart')) ?? [];
  res.type('html').send(page(user, cart));
});

app.post('/login', async (req, res) => {
  const name =
    String(req.body.name ?? '')
      .trim()
      .slice(0, 40) || 'guest';
  await req.session.regenerate();
  await req.session.bindUser(name);
  await req.session.set('user', name);
  res.redirect(303, '/');
});

app.post('/cart', async (req, res) => {
  const item = String(req.body.item ?? '')
    .trim()
    .slice(0, 40);
  if (item) await req.session.update<string[]>('cart', (cart = []) => [...cart, item]);
  res.redirect(303, '/');
});

app.post('/logout', async (req, res) => {
  await req.session.destroy();
  res.redirect(303, '/');
});

app.get('/api/state', async (req, res) => {
  res.json({
    server,
    user: (await req.session.get('user')) ?? null,
    cart: (await req.session.get('cart')) ?? [],
  });
});

app.get('/metrics', async (_req, res) => {
  res.type('text/plain').send(await sessions.prometheus());
});

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(user: string | undefined, cart: string[]): string {
  const items = cart.map((item) => `<li>${escapeHtml(item)}</li>`).join('');
  const account = user
    ? `<p>Logged in as <b>${escapeHtml(user)}</b></p><form method="post" action="/logout"><button>Log out</button></form>`
    : '<form method="post" action="/login"><input name="name" placeholder="your name"><button>Log in</button></form>';
  return `<!doctype html><meta charset="utf-8"><title>unpinned cart</title>
<h1>Served by ${escapeHtml(server)}</h1>${account}
<h2>Cart (${cart.length})</h2><ul>${items}</ul>
<form method="post" action="/cart"><input name="item" placeholder="item"><button>Add</button></form>`;
}

const listener = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  console.log(`${server} listening on http://127.0.0.1:${(listener.address() as AddressInfo).port}`);
});

// Graceful: stop accepting, let in-flight requests finish, then close the store client.
process.on('SIGTERM', () => {
  listener.close(() => {
    void sessions.close().then(() => process.exit(0));
  });
  listener.closeIdleConnections();
});
