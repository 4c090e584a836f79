// Login API throttled by express-rate-limit (default MemoryStore).
const express = require('express');
const { rateLimit } = require('express-rate-limit');

const app = express();
app.use(express.json());

const loginLimiter = rateLimit({
  windowMs: 15 * 60 * 1000,
  limit: 5,
  standardHeaders: 'draft-7',
  legacyHeaders: false,
  message: { error: 'Too many login attempts, try again later.' },
});

app.get('/', (req, res) => res.send(`<!doctype html><html><head><title>Sign in</title></head><body>
<h1>Sign in</h1>
<form id="f"><input name="email" value="ann@example.com"><input name="password" type="password"><button>Sign in</button></form>
<p id="msg"></p>
<script>
document.getElementById('f').addEventListener('submit', async (e) => {
  e.preventDefault();
  const body = Object.fromEntries(new FormData(e.target));
  const r = await fetch('/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  document.getElementById('msg').textContent = (await r.json()).error || 'ok';
});
</script></body></html>`));

app.post('/login', loginLimiter, (req, res) => {
  const { email, password } = req.body || {};
  if (email === 'ann@example.com' && password === 'correct horse') return res.json({ ok: true, user: 'ann' });
  res.status(401).json({ error: 'Wrong email or password' });
});

app.listen(process.env.PORT || 3000);
