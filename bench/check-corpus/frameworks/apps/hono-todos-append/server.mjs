import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { readFileSync } from 'node:fs';
const html = readFileSync(new URL('./index.html', import.meta.url), 'utf8').replace('<html>', `<html data-mode="${process.env.MODE || 'append'}">`);
const todos = []; // module-level state
let nextId = 1;
const app = new Hono();
app.get('/', (c) => c.html(html));
app.get('/api/todos', (c) => c.json(todos));
app.post('/api/todos', async (c) => {
  const { title } = await c.req.json();
  const todo = { id: nextId++, title, done: false };
  todos.push(todo);
  return c.json(todo, 201);
});
app.patch('/api/todos/:id', async (c) => {
  const todo = todos.find((t) => t.id === Number(c.req.param('id')));
  if (!todo) return c.json({ error: 'not found' }, 404);
  Object.assign(todo, { done: Boolean((await c.req.json()).done) });
  return c.json(todo);
});
serve({ fetch: app.fetch, port: Number(process.env.PORT), hostname: '127.0.0.1' });
