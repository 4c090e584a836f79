// per-process boot id: BOOT=always sets cookie boot=<id> on every answer, ETag includes it, page footer shows it;
// BOOT=mismatch sets the cookie only when the request's boot cookie is not this process's id (never reads it otherwise)
const express = require('express');
const crypto = require('crypto');
const session = require('express-session');
const RedisStore = require('connect-redis').default;
const { createClient } = require('redis');
const client = createClient({ url: process.env.REDIS_URL }); client.connect().catch(console.error);
const BOOT_ID = crypto.randomBytes(4).toString('hex');
const MODE = process.env.BOOT || 'always';
const app = express();
app.set('etag', false);
app.use(express.urlencoded({ extended: false }));
app.use(session({ store: new RedisStore({ client }), secret: 'fixed', resave: false, saveUninitialized: false }));
app.use((req, res, next) => {
  const got = (req.headers.cookie || '').match(/(?:^|; )boot=([^;]+)/);
  if (MODE === 'always' || !got || got[1] !== BOOT_ID) res.cookie('boot', BOOT_ID, { httpOnly: true });
  next();
});
const send = (req, res, body) => {
  const html = `<!doctype html><title>Boot</title>${body}<footer>build ${BOOT_ID}</footer>`;
  const etag = `W/"${BOOT_ID}-${crypto.createHash('sha1').update(html).digest('hex').slice(0, 10)}"`;
  res.set('ETag', etag);
  if (req.headers['if-none-match'] === etag) return res.status(304).end();
  res.send(html);
};
app.get('/', (req, res) => send(req, res, req.session.user ? `<p>Hello ${req.session.user}</p><a href="/about">about</a>` : '<form method="post" action="/login"><input name="user"><button>Log in</button></form>'));
app.post('/login', (req, res) => { req.session.user = req.body.user; res.redirect('/'); });
app.get('/about', (req, res) => send(req, res, `<p>${req.session.user ? 'Signed in: ' + req.session.user : 'anonymous'}</p><a href="/">home</a>`));
app.listen(process.env.PORT || 3000, '127.0.0.1');
