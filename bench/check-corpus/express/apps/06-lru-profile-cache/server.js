// Profiles in Redis, with a module-level LRU in front to spare Redis round trips.
const express = require('express');
const { LRUCache } = require('lru-cache');
const { createClient } = require('redis');

const redis = createClient({ url: process.env.REDIS_URL });
redis.on('error', (e) => console.error(e));
const profileCache = new LRUCache({ max: 500, ttl: 10 * 60 * 1000 });

async function getProfile(id) {
  const hit = profileCache.get(id);
  if (hit) return hit;
  const profile = await redis.hGetAll(`profile:${id}`);
  profileCache.set(id, profile);
  return profile;
}

const app = express();
app.use(express.urlencoded({ extended: false }));
const html = (t, b) => `<!doctype html><html><head><title>${t}</title></head><body><nav><a href="/profile">Profile</a> · <a href="/profile/edit">Edit</a></nav>${b}</body></html>`;
const esc = (s) => String(s ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

app.get('/', (req, res) => res.redirect('/profile'));
app.get('/profile', async (req, res) => {
  const p = await getProfile('ann');
  res.send(html('Profile', `<h1>${esc(p.name)}</h1><p>${esc(p.bio)}</p>`));
});
app.get('/profile/edit', async (req, res) => {
  const p = await getProfile('ann');
  res.send(html('Edit profile', `<h1>Edit profile</h1><form method="post" action="/profile">
<label>Name <input name="name" value="${esc(p.name)}"></label>
<label>Bio <input name="bio" value="${esc(p.bio)}"></label>
<button type="submit">Save</button></form>`));
});
app.post('/profile', async (req, res) => {
  await redis.hSet('profile:ann', { name: req.body.name, bio: req.body.bio });
  profileCache.delete('ann'); // invalidate our copy
  res.redirect(303, '/profile');
});

redis.connect().then(async () => {
  await redis.hSetNX('profile:ann', 'name', 'Ann Archer');
  await redis.hSetNX('profile:ann', 'bio', 'Archery enthusiast');
  app.listen(process.env.PORT || 3000);
});
