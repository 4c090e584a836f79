/**
 * The demo shop, written against unpinned's public API as any user app would be:
 * login and logout, a cart, checkout, a profile with the user's sessions, HTML
 * pages and a JSON API. Every response says which server answered.
 */
import express, { type Request, type Response } from 'express';
import { Counter, Registry } from 'prom-client';
import type { Session, SessionManager } from 'unpinned';
import { realtimeRoute, unpinned } from 'unpinned/express';
import type { Realtime } from 'unpinned/realtime';
import { type Capacity, capacityLimit } from './capacity.js';
import { bySku, type Cart, catalog } from './catalog.js';
import { cartPage, homePage, loginPage, profilePage, type View } from './pages.js';

export interface ShopOptions {
  sessions: SessionManager;
  serverName: string;
  /** Live updates: every open tab of a user follows its cart and orders (SSE on `/live`). */
  realtime?: Realtime;
  capacity?: Capacity;
  /**
   * Test fault injector, off by default: every Nth add is answered as if it
   * happened but is not saved, so the lab's oracle can prove it counts lost items
   * exactly. Never set it outside tests.
   */
  dropEveryNthAdd?: number;
}

export interface ShopState {
  /** Set on shutdown: health checks fail so balancers stop sending new requests. */
  stopping: boolean;
  requests: number;
  /** Adds silently dropped by the `dropEveryNthAdd` fault injector. */
  droppedAdds: number;
}

export function createShop({ sessions, serverName, capacity, realtime, dropEveryNthAdd = 0 }: ShopOptions) {
  const app = express();
  const state: ShopState = { stopping: false, requests: 0, droppedAdds: 0 };
  let adds = 0;
  const limit = capacity ? capacityLimit(capacity) : null;
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use((_req, res, next) => {
    state.requests++;
    res.set('x-served-by', serverName);
    // While shutting down, close each connection after its response so the
    // process can exit as soon as in-flight requests are done.
    if (state.stopping) res.set('connection', 'close');
    next();
  });

  // Health and metrics skip the modelled capacity: a busy server is not a dead one.
  app.get('/healthz', (_req, res) => {
    res.status(state.stopping ? 503 : 200).json({
      server: serverName,
      ok: !state.stopping,
      ...limit?.stats(),
      // Only with the test fault injector on: how many adds it dropped, for the oracle tests.
      ...(dropEveryNthAdd > 0 ? { droppedAdds: state.droppedAdds } : {}),
    });
  });
  // The app's own prom-client registry: its metrics and unpinned's on one endpoint.
  const registry = new Registry();
  const requests = new Counter({
    name: 'shop_http_requests_total',
    help: 'Requests the shop answered.',
    registers: [registry],
  });
  sessions.registerMetrics(registry);
  app.use((_req, _res, next) => {
    requests.inc();
    next();
  });
  app.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });

  if (limit) app.use(limit);
  app.use(express.urlencoded({ extended: false, limit: '4kb' }));
  app.use(express.json({ limit: '4kb' }));
  // Server-Timing shows the session's cost in the browser's developer tools; the lab reads it.
  app.use(unpinned(sessions, { serverTiming: true }));

  const view = async (req: Request, notice?: string): Promise<View> => ({
    server: serverName,
    user: (await req.session.get<string>('user')) ?? null,
    cart: (await req.session.get<Cart>('cart')) ?? {},
    orders: (await req.session.get<number>('orders')) ?? 0,
    ...(notice ? { notice } : {}),
  });
  // Pages (not the JSON API) also name the session's live channel.
  const pageView = async (req: Request, notice?: string): Promise<View> => ({
    ...(await view(req, notice)),
    ...(realtime ? { live: true, session: req.session.id } : {}),
  });
  const html = (res: Response, body: string) => res.type('html').send(body);

  // The session's other tabs learn of a change through its live channel. A change is saved
  // whether or not the announcement goes out: a store hiccup costs a live update, not the cart.
  const announce = async (req: Request) => {
    const id = req.session.id;
    if (!realtime || !id || !(await req.session.userId())) return;
    const { cart, orders } = await view(req);
    await realtime.publish(`session:${id}`, { cart, orders }).catch(() => {});
  };
  app.use((req, res, next) => {
    if (req.method !== 'GET') res.once('finish', () => void announce(req).catch(() => {}));
    next();
  });
  if (realtime) app.get('/live', realtimeRoute(realtime));

  // --- pages ---------------------------------------------------------------
  app.get('/', async (req, res) => html(res, homePage(await pageView(req))));
  app.get('/cart', async (req, res) => html(res, cartPage(await pageView(req))));
  app.get('/login', async (req, res) => html(res, loginPage(await pageView(req))));
  app.get('/profile', async (req, res) => {
    const v = await pageView(req);
    if (!v.user) return res.redirect(303, '/login');
    const list = await sessions.listUserSessions(v.user);
    html(res, profilePage(v, list, req.session.id));
  });
  app.post('/login', async (req, res) => {
    await logIn(req.session, req.body?.user);
    res.redirect(303, '/');
  });
  app.post('/logout', async (req, res) => {
    await req.session.destroy();
    res.redirect(303, '/');
  });
  app.post('/logout-everywhere', async (req, res) => {
    const user = await req.session.userId();
    if (user) await sessions.revokeUserSessions(user, { except: req.session });
    res.redirect(303, '/profile');
  });
  app.post('/cart/add', async (req, res) => {
    await addItem(req.session, req.body?.sku);
    res.redirect(303, '/');
  });
  app.post('/cart/remove', async (req, res) => {
    await removeItem(req.session, req.body?.sku);
    res.redirect(303, '/cart');
  });
  app.post('/checkout', async (req, res) => {
    const placed = await checkout(req.session);
    html(res, cartPage(await pageView(req, placed ? 'Thank you: order placed.' : 'Nothing to check out.')));
  });

  // --- JSON API: every answer carries the state, so clients can check it -----
  const api = async (req: Request, res: Response, status = 200) => res.status(status).json(await view(req));
  app.get('/api/catalog', (_req, res) => res.json({ server: serverName, products: catalog }));
  app.get('/api/me', (req, res) => api(req, res));
  app.post('/api/login', async (req, res) => {
    if (!validUser(req.body?.user))
      return res.status(400).json({ server: serverName, error: 'user: 1-40 characters' });
    await logIn(req.session, req.body.user);
    await api(req, res);
  });
  app.post('/api/logout', async (req, res) => {
    await req.session.destroy();
    res.json({ server: serverName, user: null, cart: {}, orders: 0 });
  });
  app.post('/api/cart/items', async (req, res) => {
    if (dropEveryNthAdd > 0 && ++adds % dropEveryNthAdd === 0 && bySku.has(req.body?.sku)) {
      state.droppedAdds++;
      return api(req, res);
    }
    if (!(await addItem(req.session, req.body?.sku)))
      return res.status(400).json({ server: serverName, error: 'unknown sku' });
    await api(req, res);
  });
  app.delete('/api/cart/items/:sku', async (req, res) => {
    await removeItem(req.session, req.params.sku);
    await api(req, res);
  });
  app.post('/api/checkout', async (req, res) => {
    const placed = await checkout(req.session);
    await api(req, res, placed ? 200 : 409);
  });

  return { app, state };
}

function validUser(user: unknown): user is string {
  return typeof user === 'string' && user.trim().length > 0 && user.length <= 40;
}

async function logIn(session: Session, user: unknown): Promise<void> {
  const name = validUser(user) ? user.trim() : 'guest';
  // A new token on login: a token planted before cannot ride the login.
  await session.regenerate();
  await session.bindUser(name);
  await session.set('user', name);
}

async function addItem(session: Session, sku: unknown): Promise<boolean> {
  if (typeof sku !== 'string' || !bySku.has(sku)) return false;
  // Atomic across servers: two tabs adding at once both land.
  await session.update<Cart>('cart', (cart = {}) => ({ ...cart, [sku]: (cart[sku] ?? 0) + 1 }));
  return true;
}

async function removeItem(session: Session, sku: unknown): Promise<void> {
  if (typeof sku !== 'string') return;
  await session.update<Cart>('cart', (cart = {}) => {
    const next = { ...cart };
    if ((next[sku] ?? 0) > 1) next[sku]! -= 1;
    else delete next[sku];
    return next;
  });
}

async function checkout(session: Session): Promise<boolean> {
  const cart = (await session.get<Cart>('cart')) ?? {};
  if (Object.keys(cart).length === 0) return false;
  await session.increment('orders');
  await session.set('cart', {});
  return true;
}
