import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import Redis from 'ioredis';
import { readFileSync } from 'node:fs';
const html = readFileSync(new URL('./index.html', import.meta.url), 'utf8');
const redis = new Redis(process.env.REDIS_URL || 'redis://127.0.0.1:6380');
const app = new Hono();
const all = async () => {
  const ids = await redis.lrange('todos:ids', 0, -1);
  if (!ids.length) return [];
  const raw = await redis.mget(ids.map((id) => `todo:${id}`));
  return raw.filter(Boolean).map((s) => JSON.parse(s));
};
app.get('/', (c) => c.html(html));
app.get('/api/todos', async (c) => c.json(await all()));
app.post('/api/todos', async (c) => {
  const { title } = await c.req.json();
  const id = await redis.incr('todos:next');
  const todo = { id, title, done: false };
  await redis.set(`todo:${id}`, JSON.stringify(todo));
  await redis.rpush('todos:ids', id);
  return c.json(todo, 201);
});
app.patch('/api/todos/:id', async (c) => {
  const raw = await redis.get(`todo:${c.req.param('id')}`);
  if (!raw) return c.json({ error: 'not found' }, 404);
  const todo = { ...JSON.parse(raw), done: Boolean((await c.req.json()).done) };
  await redis.set(`todo:${todo.id}`, JSON.stringify(todo));
  return c.json(todo);
});
serve({ fetch: app.fetch, port: Number(process.env.PORT), hostname: '127.0.0.1' });
