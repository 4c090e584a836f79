// Same login app, sessions in Redis via connect-redis (redis@5 client).
const express = require('express');
const session = require('express-session');
const { RedisStore } = require('connect-redis');
const { createClient } = require('redis');

const redisClient = createClient({ url: process.env.REDIS_URL });
redisClient.on('error', (err) => console.error('redis', err));
redisClient.connect();
const passport = require('passport');
const LocalStrategy = require('passport-local').Strategy;

const users = { ann: { id: 'u1', username: 'ann', password: 'secret', name: 'Ann Archer' } };
const byId = (id) => Object.values(users).find((u) => u.id === id);

passport.use(new LocalStrategy((username, password, done) => {
  const u = users[username];
  if (!u || u.password !== password) return done(null, false, { message: 'Bad credentials' });
  return done(null, u);
}));
passport.serializeUser((u, done) => done(null, u.id));
passport.deserializeUser((id, done) => done(null, byId(id) || false));

const app = express();
app.use(express.urlencoded({ extended: false }));
app.use(session({
  secret: process.env.SESSION_SECRET || 'keyboard cat',
  store: new RedisStore({ client: redisClient, prefix: 'sess:' }),
  resave: false,
  saveUninitialized: false,
  cookie: { httpOnly: true, sameSite: 'lax' },
}));
app.use(passport.initialize());
app.use(passport.session());

const layout = (title, body) => `<!doctype html><html><head><title>${title}</title></head><body>
<nav><a href="/">Home</a> · ${'__USER__'}</nav><main>${body}</main></body></html>`;
const page = (req, title, body) => layout(title, body).replace('__USER__',
  req.user ? `Signed in as ${req.user.username} · <a href="/profile">Profile</a> · <form method="post" action="/logout" style="display:inline"><button id="logout">Log out</button></form>` : '<a href="/login">Log in</a>');

function ensureLoggedIn(req, res, next) {
  if (req.isAuthenticated()) return next();
  res.redirect('/login');
}

app.get('/', (req, res) => res.send(page(req, 'Home', '<h1>Welcome to Acme</h1><p>Our little intranet.</p>')));
app.get('/login', (req, res) => res.send(page(req, 'Log in', `<h1>Log in</h1>
<form method="post" action="/login">
  <label>Username <input name="username" autocomplete="username"></label>
  <label>Password <input name="password" type="password"></label>
  <button type="submit">Log in</button>
</form>`)));
app.post('/login', passport.authenticate('local', { successRedirect: '/profile', failureRedirect: '/login' }));
app.get('/profile', ensureLoggedIn, (req, res) => res.send(page(req, 'Profile', `<h1>Profile</h1>
<dl><dt>Username</dt><dd>${req.user.username}</dd><dt>Name</dt><dd>${req.user.name}</dd></dl>`)));
app.post('/logout', (req, res, next) => req.logout((err) => (err ? next(err) : res.redirect('/'))));
app.get('/healthz', (req, res) => res.send('ok'));

app.listen(process.env.PORT || 3000, () => console.log(`listening on ${process.env.PORT || 3000}`));
