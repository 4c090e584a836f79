// A clean app whose answers are full of noise: dates in several formats, random ids, nonces, timings.
import Fastify from 'fastify';
import Redis from 'ioredis';
import crypto from 'node:crypto';
import { nanoid, customAlphabet } from 'nanoid';
const shortId = customAlphabet('0123456789abcdefghijklmnopqrstuvwxyz', 8);
const fastify = Fastify({ logger: false });
const redis = new Redis(process.env.REDIS_URL);
const COUNT = process.env.COUNT_REQUESTS === '1' || (await import('node:fs')).existsSync(new URL('./.count', import.meta.url));
let served = 0;
fastify.addHook('onRequest', async () => { served++; });
const pad = (n) => String(n).padStart(2, '0');
const stamp = (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
fastify.get('/', async (req, reply) => {
  const t0 = process.hrtime.bigint();
  const nonce = crypto.randomBytes(16).toString('base64');
  reply.header('content-security-policy', `script-src 'nonce-${nonce}'`).header('x-request-id', crypto.randomUUID());
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  return reply.type('text/html').send(`<!doctype html><html><head><title>Notes</title><meta name="build" content="${Date.now().toString(36)}"><meta name="trace-id" content="${crypto.randomBytes(8).toString('hex')}"></head><body>
<h1>Notes</h1><p>Page generated at ${new Date().toLocaleString('en-US')} in ${ms.toFixed(3)} ms (${new Date().toUTCString()})</p>
<form id="f"><input name="text"><button>Save note</button></form><pre id="status"></pre><ul id="notes"></ul><p id="last"></p>
<script nonce="${nonce}">
const $ = (id) => document.getElementById(id);
async function refresh() {
  $('status').textContent = JSON.stringify(await (await fetch('/api/status')).json(), null, 1);
  const list = await (await fetch('/api/notes')).json();
  $('notes').innerHTML = list.notes.map((n) => '<li>' + n.text + ' (' + n.createdAt + ')</li>').join('');
}
$('f').onsubmit = async (e) => {
  e.preventDefault();
  const note = await (await fetch('/api/notes', { method: 'POST', headers: { 'content-type': 'application/json', 'x-client-request-id': crypto.randomUUID() }, body: JSON.stringify({ text: e.target.text.value }) })).json();
  const again = await (await fetch('/api/note?id=' + encodeURIComponent(note.id))).json();
  $('last').textContent = 'saved ' + again.note.id + ' ref ' + again.note.ref;
  await refresh();
};
refresh();
</script></body></html>`);
});
fastify.get('/api/status', async () => {
  const now = new Date();
  const status = {
    ok: true,
    iso: now.toISOString(),
    httpDate: now.toUTCString(),
    local: stamp(now),
    locale: now.toLocaleString('en-GB'),
    epochMs: now.getTime(),
    epochS: Math.floor(now.getTime() / 1000),
    uptime: process.uptime(),
    requestId: crypto.randomUUID(),
    traceId: crypto.randomBytes(16).toString('hex'),
    span: shortId(),
    token: nanoid(),
    sample: Math.random(),
    memoryMB: Math.round(process.memoryUsage().rss / 1048576),
    hrtime: process.hrtime.bigint().toString(),
  };
  if (COUNT) status.stats = { requestsServed: served };
  return status;
});
fastify.post('/api/notes', async (req, reply) => {
  const note = { id: nanoid(12), ref: shortId(), text: req.body.text, createdAt: new Date().toISOString(), createdAtMs: Date.now() };
  await redis.set(`note:${note.id}`, JSON.stringify(note));
  await redis.zadd('notes', note.createdAtMs, note.id);
  return reply.code(201).send(note);
});
const byId = async (id, reply) => {
  const raw = await redis.get(`note:${id}`);
  if (!raw) return reply.code(404).send({ error: 'no such note' });
  return { note: JSON.parse(raw), fetchedAt: new Date().toISOString() };
};
fastify.get('/api/notes/:id', (req, reply) => byId(req.params.id, reply));
fastify.get('/api/note', (req, reply) => byId(req.query.id, reply));
fastify.get('/api/notes', async () => {
  const ids = await redis.zrange('notes', 0, -1);
  const notes = ids.length ? (await redis.mget(ids.map((i) => `note:${i}`))).map((s) => JSON.parse(s)) : [];
  return { notes, count: notes.length, generatedAt: Date.now() / 1000 };
});
await fastify.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
