// A tiny pastebin: notes in Redis under random UUIDs, POST-redirect-GET to /notes/<id>.
const crypto = require('node:crypto');
const express = require('express');
const { createClient } = require('redis');

const redis = createClient({ url: process.env.REDIS_URL });
redis.on('error', (e) => console.error(e));

const app = express();
app.use(express.urlencoded({ extended: false }));
const html = (t, b) => `<!doctype html><html><head><title>${t}</title></head><body><nav><a href="/">New note</a></nav>${b}</body></html>`;
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

app.get('/', (req, res) => res.send(html('New note', `<h1>New note</h1>
<form method="post" action="/notes"><textarea name="text"></textarea><button type="submit">Save</button></form>`)));
app.post('/notes', async (req, res) => {
  const id = crypto.randomUUID();
  await redis.set(`note:${id}`, req.body.text, { EX: 86400 });
  res.redirect(303, `/notes/${id}`);
});
app.get('/notes/:id', async (req, res) => {
  const text = await redis.get(`note:${req.params.id}`);
  if (text === null) return res.status(404).send(html('Not found', '<h1>No such note</h1>'));
  res.send(html('Note', `<h1>Note</h1><pre>${esc(text)}</pre><p><a id="raw" href="/notes/${req.params.id}/raw">raw</a></p>`));
});
app.get('/notes/:id/raw', async (req, res) => {
  const text = await redis.get(`note:${req.params.id}`);
  if (text === null) return res.status(404).type('text').send('not found');
  res.type('text').send(text);
});

redis.connect().then(() => app.listen(process.env.PORT || 3000));
