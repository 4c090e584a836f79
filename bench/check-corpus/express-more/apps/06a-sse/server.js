// ordinary pages with the session in Redis, plus an SSE clock at /events (EventSource)
const express = require('express');
const session = require('express-session');
const RedisStore = require('connect-redis').default;
const { createClient } = require('redis');
const client = createClient({ url: process.env.REDIS_URL }); client.connect().catch(console.error);
const app = express();
app.use(express.urlencoded({ extended: false }));
app.use(session({ store: new RedisStore({ client }), secret: 'fixed', resave: false, saveUninitialized: false }));
app.get('/', (req, res) => res.send(`<!doctype html><title>Live</title>
<p>${req.session.user ? 'Hello ' + req.session.user : '<form method="post" action="/login"><input name="user"><button>Log in</button></form>'}</p>
<p>Server time: <span id="clock">…</span> <span id="ticks">0</span> ticks</p><a href="/about">about</a>
<script>const es = new EventSource('/events'); let n = 0; es.onmessage = (e) => { document.getElementById('clock').textContent = e.data; document.getElementById('ticks').textContent = ++n; };</script>`));
app.post('/login', (req, res) => { req.session.user = req.body.user; res.redirect('/'); });
app.get('/about', (req, res) => res.send(`<!doctype html><title>About</title><p>${req.session.user ? 'Signed in: ' + req.session.user : 'anonymous'}</p><a href="/">home</a>`));
let ticks = 0; // per-process, only ever sent over the event stream
app.get('/events', (req, res) => {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  const send = () => res.write(`id: ${++ticks}\ndata: ${new Date().toISOString()}\n\n`);
  send(); const t = setInterval(send, 300);
  req.on('close', () => clearInterval(t));
});
app.listen(process.env.PORT || 3000, '127.0.0.1');
