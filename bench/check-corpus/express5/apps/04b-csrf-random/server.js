// Same contact form; the CSRF secret is generated at startup.
const crypto = require('node:crypto');
const express = require('express');
const cookieParser = require('cookie-parser');
const { doubleCsrf } = require('csrf-csrf');

const CSRF_SECRET = crypto.randomBytes(32).toString('hex');

const { generateCsrfToken, doubleCsrfProtection } = doubleCsrf({
  getSecret: () => CSRF_SECRET,
  getSessionIdentifier: (req) => req.cookies.vid,
  cookieName: 'csrf-token',
  cookieOptions: { sameSite: 'lax', secure: false, httpOnly: true, path: '/' },
  getCsrfTokenFromRequest: (req) => req.body?._csrf,
});

const app = express();
app.use(cookieParser());
app.use(express.urlencoded({ extended: false }));
// anonymous visitor id, the "session" the CSRF token is bound to
app.use((req, res, next) => {
  if (!req.cookies.vid) {
    req.cookies.vid = crypto.randomUUID();
    res.cookie('vid', req.cookies.vid, { httpOnly: true, sameSite: 'lax', maxAge: 365 * 864e5 });
  }
  next();
});
app.use(doubleCsrfProtection);

const html = (title, body) => `<!doctype html><html><head><title>${title}</title></head><body><nav><a href="/">Home</a> · <a href="/contact">Contact</a></nav>${body}</body></html>`;
const messages = [];

app.get('/', (req, res) => res.send(html('Home', '<h1>Widgets Inc.</h1><p>Questions? <a href="/contact">Write to us</a>.</p>')));
app.get('/contact', (req, res) => res.send(html('Contact', `<h1>Contact us</h1>
<form method="post" action="/contact">
  <input type="hidden" name="_csrf" value="${generateCsrfToken(req, res)}">
  <label>Email <input name="email" type="email"></label>
  <label>Message <textarea name="message"></textarea></label>
  <button type="submit">Send</button>
</form>`)));
app.post('/contact', (req, res) => {
  console.log('message from', req.body.email);
  res.redirect(303, '/thanks');
});
app.get('/thanks', (req, res) => res.send(html('Thanks', '<h1>Thanks!</h1><p>We will get back to you.</p>')));

app.use((err, req, res, next) => {
  if (err.code === 'EBADCSRFTOKEN') return res.status(403).send(html('Forbidden', '<h1>Form expired</h1><p>Please reload the page and try again.</p>'));
  next(err);
});

app.listen(process.env.PORT || 3000);
