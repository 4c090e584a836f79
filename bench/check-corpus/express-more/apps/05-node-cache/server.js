// Profile data in Redis, read through a per-process node-cache (no TTL). CACHE=off bypasses the cache (control).
const express = require('express');
const NodeCache = require('node-cache');
const { createClient } = require('redis');
const r = createClient({ url: process.env.REDIS_URL }); r.connect().catch(console.error);
const cache = new NodeCache({ stdTTL: 0, useClones: false });
const USE = process.env.CACHE !== 'off';
async function getProfile() {
  if (USE) { const hit = cache.get('profile'); if (hit) return hit; }
  const p = (await r.hGetAll('profile')); const v = { name: p.name || 'Ann', city: p.city || 'Oslo' };
  if (USE) cache.set('profile', v);
  return v;
}
const app = express();
app.use(express.urlencoded({ extended: false }));
app.get('/profile', async (req, res) => {
  const p = await getProfile();
  res.send(`<!doctype html><title>Profile</title><h1>${p.name} from ${p.city}</h1>
  <form method="post" action="/profile"><input name="name" value="${p.name}"><input name="city" value="${p.city}"><button>Save</button></form>`);
});
app.post('/profile', async (req, res) => {
  const v = { name: req.body.name, city: req.body.city };
  await r.hSet('profile', v);
  if (USE) cache.set('profile', v); // updates only this process's copy
  res.redirect('/profile');
});
app.get('/', (req, res) => res.redirect('/profile'));
app.listen(process.env.PORT || 3000, '127.0.0.1');
