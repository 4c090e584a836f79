// express-session with a store chosen by STORE: file (session-file-store, ./sessions), memorystore, redis
const express = require('express');
const session = require('express-session');
const app = express();
app.use(express.urlencoded({ extended: false }));
const STORE = process.env.STORE || 'file';
let store;
if (STORE === 'file') {
  const FileStore = require('session-file-store')(session);
  store = new FileStore({ path: './sessions', logFn: () => {} });
} else if (STORE === 'memorystore') {
  const MemoryStore = require('memorystore')(session);
  store = new MemoryStore({ checkPeriod: 86400000 });
} else {
  const RedisStore = require('connect-redis').default;
  const { createClient } = require('redis');
  const client = createClient({ url: process.env.REDIS_URL });
  client.connect().catch(console.error);
  store = new RedisStore({ client });
}
app.use(session({ store, secret: 'fixed-secret-for-all-replicas', resave: false, saveUninitialized: false }));
const page = (body) => `<!doctype html><html><head><title>Notes</title></head><body>${body}</body></html>`;
app.get('/', (req, res) => {
  if (req.session.user) return res.send(page(`<p>Logged in as ${req.session.user}</p><a href="/profile">profile</a><form method="post" action="/logout"><button>Log out</button></form>`));
  res.send(page(`<h1>Log in</h1><form method="post" action="/login"><input name="user"><button>Log in</button></form>`));
});
app.post('/login', (req, res) => { req.session.user = req.body.user; res.redirect('/'); });
app.get('/profile', (req, res) => {
  if (!req.session.user) return res.status(401).send(page('<p>Please log in</p>'));
  res.send(page(`<h1>Profile of ${req.session.user}</h1><a href="/">home</a>`));
});
app.post('/logout', (req, res) => req.session.destroy(() => res.redirect('/')));
app.listen(process.env.PORT || 3000, '127.0.0.1');
