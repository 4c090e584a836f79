// Journey app: form login (303), settings form (302), static assets, JSON API via fetch,
// gzip via compression, a binary image, query strings, PUT/DELETE. STORE=memory|redis.
const express = require('express');
const session = require('express-session');
const compression = require('compression');
const crypto = require('node:crypto');
const zlib = require('node:zlib');

// One app for every recording: STORE=memory|redis, IDS=hex|seq|uuid, SPA=1 for a catch-all page.
const STORE = process.env.STORE ?? 'memory';
const IDS = process.env.IDS ?? 'hex';
const app = express();
app.set('trust proxy', 1);
app.use(compression());
app.use(express.urlencoded({ extended: false }));
app.use(express.json());

let store;
if (STORE === 'redis') {
  const { RedisStore } = require('connect-redis');
  const { createClient } = require('redis');
  const client = createClient({ url: process.env.REDIS_URL });
  client.on('error', (e) => console.error('redis', e.message));
  var connected = client.connect();
  store = new RedisStore({ client, prefix: 'journey:' });
}
app.use(session({
  ...(store && { store }),
  secret: process.env.SESSION_SECRET || 'journey-secret',
  resave: false,
  saveUninitialized: false,
  name: 'jsid',
}));
app.use(express.static(__dirname + '/public'));

function png(w, h, rgb) {
  const crcTable = Array.from({ length: 256 }, (_, n) => { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; return c >>> 0; });
  const crc = (buf) => { let c = 0xffffffff; for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8); return (c ^ 0xffffffff) >>> 0; };
  const chunk = (type, data) => { const len = Buffer.alloc(4); len.writeUInt32BE(data.length); const td = Buffer.concat([Buffer.from(type), data]); const c = Buffer.alloc(4); c.writeUInt32BE(crc(td)); return Buffer.concat([len, td, c]); };
  const ihdr = Buffer.alloc(13); ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr[8] = 8; ihdr[9] = 2;
  const rows = []; for (let y = 0; y < h; y++) { rows.push(0); for (let x = 0; x < w; x++) rows.push(rgb[0] ^ x, rgb[1] ^ y, rgb[2]); }
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(Buffer.from(rows))), chunk('IEND', Buffer.alloc(0))]);
}
const favicon = png(16, 16, [200, 40, 40]);
app.get('/favicon.ico', (req, res) => res.type('image/x-icon').send(favicon));

const layout = (title, body) => `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title>
<link rel="stylesheet" href="/app.css"><link rel="icon" href="/favicon.ico"></head>
<body><header><img src="/logo.png" alt="logo" width="32"> <a href="/">Journey</a></header>${body}
<script src="/app.js"></script></body></html>`;

app.get('/', (req, res) => {
  const who = req.session.user;
  res.send(layout('Home', who
    ? `<p id="who">Logged in as ${who}</p><a href="/dashboard">dashboard</a>`
    : `<p id="who">Not logged in</p><a id="login" href="/login">Log in</a>`));
});
app.get('/login', (req, res) => {
  res.send(layout('Log in', `<form method="post" action="/login">
    <input name="user"><input name="password" type="password"><button id="go">Log in</button></form>`));
});
app.post('/login', (req, res) => {
  if (!req.body.user || req.body.password !== 'secret') return res.status(401).send(layout('Log in', '<p>wrong password</p>'));
  req.session.regenerate(() => {
    req.session.user = req.body.user;
    req.session.items = [];
    req.session.theme = 'light';
    req.session.save(() => res.redirect(303, '/dashboard'));
  });
});
const auth = (req, res, next) => (req.session.user ? next() : req.accepts('html') && !req.path.startsWith('/api') ? res.redirect('/login') : res.status(401).json({ error: 'login first' }));
app.get('/dashboard', auth, (req, res) => {
  res.send(layout('Dashboard', `<h1>Dashboard of ${req.session.user}</h1>
    <p>theme: <span id="theme">${req.session.theme}</span></p>
    <img src="/avatar.png?size=24" alt="avatar">
    <ul id="items"></ul>
    <button id="add">add</button><button id="rename">rename</button><button id="remove">remove</button>
    <form method="post" action="/settings"><select name="theme"><option>light</option><option>dark</option></select><button id="save">save</button></form>
    <a id="search" href="/search?q=green+tea&page=2&sort=price">search</a>`));
});
app.post('/settings', auth, (req, res) => {
  req.session.theme = req.body.theme === 'dark' ? 'dark' : 'light';
  res.redirect(302, '/dashboard');
});
app.get('/search', (req, res) => {
  const q = String(req.query.q || ''); const page = Number(req.query.page || 1);
  res.send(layout('Search', `<h1>Results for ${q.replace(/</g, '&lt;')}</h1><p>page ${page}, sorted by ${req.query.sort || 'name'}</p>
    <ul>${[1, 2, 3].map((i) => `<li>${q} #${(page - 1) * 3 + i}</li>`).join('')}</ul>`));
});
app.get('/r1', (req, res) => res.redirect(301, '/r2'));
app.get('/r2', (req, res) => res.redirect(302, '/dashboard'));
app.get('/avatar.png', (req, res) => {
  const size = Math.min(64, Number(req.query.size) || 16);
  res.type('image/png').send(png(size, size, [30, 120, 200]));
});
app.get('/api/items', auth, (req, res) => res.json({ user: req.session.user, items: req.session.items }));
app.post('/api/items', auth, (req, res) => {
  const id =
    IDS === 'seq'
      ? 'item-' + (req.session.seq = (req.session.seq || 0) + 1)
      : IDS === 'uuid'
        ? crypto.randomUUID()
        : crypto.randomBytes(8).toString('hex');
  const item = { id, name: String(req.body.name), qty: Number(req.body.qty) || 1 };
  req.session.items.push(item);
  res.status(201).json(item);
});
app.put('/api/items/:id', auth, (req, res) => {
  const item = req.session.items.find((i) => i.id === req.params.id);
  if (!item) return res.status(404).json({ error: 'no such item' });
  Object.assign(item, { name: String(req.body.name ?? item.name), qty: Number(req.body.qty ?? item.qty) });
  res.json(item);
});
app.delete('/api/items/:id', auth, (req, res) => {
  const before = req.session.items.length;
  req.session.items = req.session.items.filter((i) => i.id !== req.params.id);
  if (req.session.items.length === before) return res.status(404).json({ error: 'no such item' });
  res.status(204).end();
});
app.get('/api/report', (req, res) => {
  // Large enough for compression to gzip it.
  const rows = Array.from({ length: 200 }, (_, i) => ({ n: i, label: `row ${i}`, square: i * i }));
  res.json({ title: 'report', rows });
});
app.options('/api/items', (req, res) => res.set('allow', 'GET,POST').status(204).end());

// SPA fallback: every unknown GET gets the shell page (as many SPA servers do).
if (process.env.SPA === '1') app.get(/.*/, (req, res) => res.send(layout('App', '<div id="root"></div>')));

const port = Number(process.env.PORT || 3000);
Promise.resolve(typeof connected !== 'undefined' && connected).then(() =>
  app.listen(port, '127.0.0.1', () => console.log(`journey app (${STORE}) on ${port}`)));
