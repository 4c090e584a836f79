// Login with a JWT in an HttpOnly cookie (jsonwebtoken), signing key from the environment.
const crypto = require('node:crypto');
const express = require('express');
const cookieParser = require('cookie-parser');
const jwt = require('jsonwebtoken');

const JWT_SECRET = process.env.JWT_SECRET;
if (!JWT_SECRET) throw new Error('set JWT_SECRET');

const app = express();
app.use(express.urlencoded({ extended: false }));
app.use(cookieParser());

const users = { 'ann@example.com': { password: 'pa55word', name: 'Ann', role: 'admin' } };
const html = (t, b) => `<!doctype html><html><head><title>${t}</title></head><body><nav><a href="/">Home</a> · <a href="/dashboard">Dashboard</a></nav>${b}</body></html>`;

function auth(req, res, next) {
  const token = req.cookies.token;
  if (!token) return res.redirect('/login');
  try {
    req.user = jwt.verify(token, JWT_SECRET);
    next();
  } catch (err) {
    res.clearCookie('token');
    res.redirect('/login');
  }
}

app.get('/', (req, res) => res.send(html('Home', '<h1>Acme admin</h1><p><a href="/login">Sign in</a></p>')));
app.get('/login', (req, res) => res.send(html('Sign in', `<h1>Sign in</h1><form method="post" action="/login">
<input name="email" type="email"><input name="password" type="password"><button type="submit">Sign in</button></form>`)));
app.post('/login', (req, res) => {
  const u = users[req.body.email];
  if (!u || u.password !== req.body.password) return res.status(401).send(html('Sign in', '<p>Wrong email or password</p>'));
  const token = jwt.sign({ sub: req.body.email, name: u.name, role: u.role }, JWT_SECRET, { expiresIn: '1h' });
  res.cookie('token', token, { httpOnly: true, sameSite: 'lax', maxAge: 3600 * 1000 });
  res.redirect(303, '/dashboard');
});
app.get('/dashboard', auth, (req, res) => res.send(html('Dashboard', `<h1>Dashboard</h1><p>Welcome back, ${req.user.name} (${req.user.role})</p><p><a href="/reports">Reports</a></p>`)));
app.get('/reports', auth, (req, res) => res.send(html('Reports', `<h1>Reports for ${req.user.sub}</h1><ul><li>Q1</li><li>Q2</li></ul>`)));
app.post('/logout', (req, res) => { res.clearCookie('token'); res.redirect(303, '/'); });

app.listen(process.env.PORT || 3000);
