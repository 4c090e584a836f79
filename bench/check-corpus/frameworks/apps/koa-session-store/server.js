// koa + @koa/router + koa-session in its default cookie mode (session data in a signed cookie)
const Koa = require('koa');
const Router = require('@koa/router');
const { createSession: session } = require('koa-session');
const bodyParser = require('koa-bodyparser');
const app = new Koa();
app.keys = ['koa-fixed-key-one-1234567890', 'koa-fixed-key-two-0987654321'];
const opts = { key: 'koa.sess', maxAge: 86400000, httpOnly: true, signed: true, rolling: false, renew: false };
if ((process.env.STORE === 'memory' || require('fs').existsSync(__dirname + '/.memory'))) {
  const sessions = new Map(); // an in-memory external store
  opts.store = {
    async get(key) { return sessions.get(key); },
    async set(key, sess) { sessions.set(key, sess); },
    async destroy(key) { sessions.delete(key); },
  };
}
app.use(session(opts, app));
app.use(bodyParser());
const router = new Router();
const page = (t, b) => `<!doctype html><html><head><title>${t}</title></head><body><h1>${t}</h1>${b}</body></html>`;
router.get('/', (ctx) => {
  ctx.type = 'html';
  ctx.body = ctx.session.user ? page('Books', `<p>Hello ${ctx.session.user}</p><a href="/cart">cart</a><form method="post" action="/cart"><input type="hidden" name="book" value="SICP"><button>Add SICP</button></form><form method="post" action="/cart"><input type="hidden" name="book" value="TAOCP"><button>Add TAOCP</button></form>`) : page('Books', '<a href="/login">Log in</a>');
});
router.get('/login', (ctx) => { ctx.type = 'html'; ctx.body = page('Log in', '<form method="post" action="/login"><input name="user"><button>Log in</button></form>'); });
router.post('/login', (ctx) => { ctx.session.user = ctx.request.body.user; ctx.session.cart = []; ctx.redirect('/'); });
router.post('/cart', (ctx) => {
  if (!ctx.session.user) { ctx.status = 401; ctx.body = 'log in first'; return; }
  ctx.session.cart = [...(ctx.session.cart || []), ctx.request.body.book];
  ctx.redirect('/cart');
});
router.get('/cart', (ctx) => {
  ctx.type = 'html';
  const cart = ctx.session.cart || [];
  ctx.body = page('Cart', `<p>${ctx.session.user ? 'Cart of ' + ctx.session.user : 'Not logged in'}</p><ul>${cart.map((b) => `<li>${b}</li>`).join('')}</ul><p>${cart.length} items</p><a href="/">books</a>`);
});
app.use(router.routes()).use(router.allowedMethods());
app.listen(Number(process.env.PORT), '127.0.0.1');
