// GraphQL over POST /graphql (graphql-http). NOTES=memory: module-level array, counter ids; NOTES=redis: Redis, random ids
const express = require('express');
const crypto = require('crypto');
const { createHandler } = require('graphql-http/lib/use/express');
const { buildSchema } = require('graphql');
const schema = buildSchema(`
  type Note { id: ID!, text: String!, likes: Int! }
  type Query { note(id: ID!): Note, notes: [Note!]! }
  type Mutation { addNote(text: String!): Note!, like(id: ID!): Note }
`);
const MODE = process.env.NOTES || 'memory';
let root;
if (MODE === 'memory') {
  const notes = []; let nextId = 1;
  root = {
    note: ({ id }) => notes.find((n) => n.id === id) || null,
    notes: () => notes,
    addNote: ({ text }) => { const n = { id: String(nextId++), text, likes: 0 }; notes.push(n); return n; },
    like: ({ id }) => { const n = notes.find((x) => x.id === id); if (n) n.likes++; return n || null; },
  };
} else {
  const { createClient } = require('redis');
  const r = createClient({ url: process.env.REDIS_URL }); r.connect().catch(console.error);
  const get = async (id) => { const h = await r.hGetAll('note:' + id); return h.text ? { id, text: h.text, likes: Number(h.likes) } : null; };
  root = {
    note: ({ id }) => get(id),
    notes: async () => Promise.all((await r.lRange('notes', 0, -1)).map(get)),
    addNote: async ({ text }) => { const id = crypto.randomBytes(6).toString('hex'); await r.hSet('note:' + id, { text, likes: 0 }); await r.rPush('notes', id); return { id, text, likes: 0 }; },
    like: async ({ id }) => { if (!(await r.exists('note:' + id))) return null; await r.hIncrBy('note:' + id, 'likes', 1); return get(id); },
  };
}
const app = express();
app.post('/graphql', createHandler({ schema, rootValue: root }));
app.get('/', (req, res) => res.send(`<!doctype html><html><head><title>GraphQL notes</title></head><body>
<h1>Notes</h1><input id="text" name="text"><button id="add">Add</button><ul id="list"></ul><p id="status"></p>
<script>
async function gql(query, variables) {
  const r = await fetch('/graphql', { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' }, body: JSON.stringify({ query, variables }) });
  return r.json();
}
document.getElementById('add').onclick = async () => {
  const { data } = await gql('mutation Add($text: String!) { addNote(text: $text) { id text likes } }', { text: document.getElementById('text').value });
  const li = document.createElement('li'); li.id = 'n' + data.addNote.id; li.textContent = data.addNote.text + ' ';
  const b = document.createElement('button'); b.textContent = 'like'; b.className = 'like';
  b.onclick = async () => {
    const res = await gql('mutation Like($id: ID!) { like(id: $id) { id likes } }', { id: data.addNote.id });
    const one = await gql('query One($id: ID!) { note(id: $id) { id text likes } }', { id: data.addNote.id });
    document.getElementById('status').textContent = one.data.note ? one.data.note.text + ' has ' + one.data.note.likes + ' likes' : 'not found';
  };
  li.appendChild(b); document.getElementById('list').appendChild(li);
};
</script></body></html>`));
app.listen(process.env.PORT || 3000, '127.0.0.1');
