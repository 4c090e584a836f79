// A small tea shop: noisy on purpose (CSP nonces, request ids, timings, random quotes), state only in cookie-session.
const crypto = require('node:crypto');
const express = require('express');
const helmet = require('helmet');
const morgan = require('morgan');
const cookieSession = require('cookie-session');
const { v4: uuidv4 } = require('uuid');

const products = {
  sencha: { name: 'Sencha', price: 12.5 },
  assam: { name: 'Assam', price: 9.0 },
  rooibos: { name: 'Rooibos', price: 7.25 },
};
const quotes = [
  'Tea is quiet and our thirst for tea is never far from our craving for beauty.',
  'Where there is tea, there is hope.',
  'Tea! Thou soft, thou sober, sage, and venerable liquid.',
  'You can never get a cup of tea large enough or a book long enough to suit me.',
  'Each cup of tea represents an imaginary voyage.',
  'There is something in the nature of tea that leads us into a world of quiet contemplation.',
  'Come along inside, we will see if tea and buns can make the world a better place.',
  'Drink your tea slowly and reverently.',
];

const app = express();
app.set('etag', 'strong');
app.use((req, res, next) => {
  req.id = req.get('x-request-id') || uuidv4();
  res.set('X-Request-Id', req.id);
  res.locals.nonce = crypto.randomBytes(16).toString('base64');
  res.locals.started = process.hrtime.bigint();
  const end = res.end;
  res.end = function (...args) {
    if (!res.headersSent) {
      const ms = Number(process.hrtime.bigint() - res.locals.started) / 1e6;
      res.set('Server-Timing', `app;dur=${ms.toFixed(2)}, db;dur=${(Math.random() * 3).toFixed(2)};desc="catalog"`);
    }
    return end.apply(this, args);
  };
  next();
});
morgan.token('id', (req) => req.id);
app.use(morgan(':id :method :url :status :response-time ms'));
app.use(helmet({
  contentSecurityPolicy: { directives: { scriptSrc: ["'self'", (req, res) => `'nonce-${res.locals.nonce}'`] } },
}));
app.use(express.urlencoded({ extended: false }));
app.use(cookieSession({ name: 'shop', keys: [process.env.COOKIE_SECRET || 'dev-cookie-secret'], maxAge: 7 * 864e5, sameSite: 'lax' }));

const money = (n) => `€${n.toFixed(2)}`;
function page(req, res, title, body) {
  const cart = req.session.cart || {};
  const count = Object.values(cart).reduce((a, b) => a + b, 0);
  const quote = quotes[Math.floor(Math.random() * quotes.length)];
  res.send(`<!doctype html><html><head><title>${title} · Tea Shop</title>
<meta name="request-id" content="${req.id}"><meta name="csp-nonce" content="${res.locals.nonce}"></head><body>
<header><a href="/">Tea Shop</a> · <a href="/cart">Cart (${count})</a> · ${req.session.user ? `Hello, ${req.session.user} · <a href="/account">Account</a>` : '<a href="/login">Sign in</a>'}</header>
<main>${body}</main>
<aside><blockquote>${quote}</blockquote></aside>
<footer>Rendered at ${new Date().toISOString()} by ${process.pid} · request ${req.id}</footer>
<script nonce="${res.locals.nonce}">window.__RENDERED__=${Date.now()};</script>
</body></html>`);
}

app.get('/', (req, res) => page(req, res, 'Home', `<h1>Our teas</h1><ul>${Object.entries(products).map(([id, p]) => `<li><a href="/tea/${id}">${p.name}</a> ${money(p.price)}</li>`).join('')}</ul>`));
app.get('/tea/:id', (req, res) => {
  const p = products[req.params.id];
  if (!p) return res.status(404).send('no such tea');
  page(req, res, p.name, `<h1>${p.name}</h1><p>${money(p.price)} per 100 g</p>
<form method="post" action="/cart"><input type="hidden" name="id" value="${req.params.id}"><input name="qty" value="1" size="2"><button type="submit">Add to cart</button></form>`);
});
app.post('/cart', (req, res) => {
  const cart = { ...(req.session.cart || {}) };
  cart[req.body.id] = (cart[req.body.id] || 0) + Number(req.body.qty || 1);
  req.session.cart = cart;
  res.redirect(303, '/cart');
});
app.post('/cart/remove', (req, res) => {
  const cart = { ...(req.session.cart || {}) };
  delete cart[req.body.id];
  req.session.cart = cart;
  res.redirect(303, '/cart');
});
app.get('/cart', (req, res) => {
  const cart = req.session.cart || {};
  const rows = Object.entries(cart).map(([id, q]) => `<tr><td>${products[id].name}</td><td>${q}</td><td>${money(q * products[id].price)}</td>
<td><form method="post" action="/cart/remove"><input type="hidden" name="id" value="${id}"><button type="submit" class="rm-${id}">Remove</button></form></td></tr>`).join('');
  const total = Object.entries(cart).reduce((s, [id, q]) => s + q * products[id].price, 0);
  page(req, res, 'Cart', `<h1>Your cart</h1><table>${rows}</table><p>Total ${money(total)}</p><p><a href="/">Keep shopping</a></p>`);
});
app.get('/api/cart', (req, res) => res.json({ cart: req.session.cart || {}, user: req.session.user || null, requestId: req.id, at: new Date().toISOString() }));
app.get('/login', (req, res) => page(req, res, 'Sign in', `<h1>Sign in</h1><form method="post" action="/login"><input name="email"><input name="password" type="password"><button type="submit">Sign in</button></form>`));
app.post('/login', (req, res) => {
  if (req.body.password !== 'tea4two') return res.status(401).send('wrong password');
  req.session.user = req.body.email;
  res.redirect(303, '/account');
});
app.get('/account', (req, res) => {
  if (!req.session.user) return res.redirect('/login');
  page(req, res, 'Account', `<h1>Account</h1><p>Signed in as ${req.session.user}</p><p>Member since ${new Date(Date.now() - 86400000 * 30).toDateString()}</p>`);
});
app.get('/healthz', (req, res) => res.json({ ok: true, uptime: process.uptime() }));

app.listen(process.env.PORT || 3000, () => console.log('tea shop on', process.env.PORT));
