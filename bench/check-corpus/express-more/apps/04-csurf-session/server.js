// csurf with cookie:false (secret in req.session). STORE=memory: express-session MemoryStore; STORE=redis: connect-redis
const express = require('express');
const session = require('express-session');
const csrf = require('csurf');
const app = express();
app.use(express.urlencoded({ extended: false }));
let store;
if (process.env.STORE === 'redis') {
  const RedisStore = require('connect-redis').default;
  const { createClient } = require('redis');
  const client = createClient({ url: process.env.REDIS_URL }); client.connect().catch(console.error);
  store = new RedisStore({ client });
}
app.use(session({ store, secret: 'fixed-secret-for-all-replicas', resave: false, saveUninitialized: false }));
app.use(csrf({ cookie: false }));
const page = (b) => `<!doctype html><html><head><title>Bank</title></head><body>${b}</body></html>`;
app.get('/', (req, res) => res.send(page(`<h1>Transfer</h1><form method="post" action="/transfer"><input type="hidden" name="_csrf" value="${req.csrfToken()}"><input name="amount"><input name="to"><button>Send</button></form>`)));
app.post('/transfer', (req, res) => { req.session.last = `${req.body.amount} to ${req.body.to}`; res.redirect('/done'); });
app.get('/done', (req, res) => res.send(page(`<p>Sent ${req.session.last || 'nothing'}</p><a href="/">again</a>`)));
app.use((err, req, res, next) => { if (err.code === 'EBADCSRFTOKEN') return res.status(403).send(page('<p>Form tampered with (invalid csrf token)</p>')); next(err); });
app.listen(process.env.PORT || 3000, '127.0.0.1');
