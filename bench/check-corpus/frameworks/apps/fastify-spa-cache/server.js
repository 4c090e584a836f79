// An SPA whose catalog JSON is fetched twice: once with ETag (revalidated, 304) and once with max-age (served from the browser's cache)
const crypto = require('node:crypto');
const fastify = require('fastify')({ logger: false });
const catalog = { products: [{ sku: 'TEA-1', name: 'Green tea', price: 4.5 }, { sku: 'TEA-2', name: 'Black tea', price: 3.9 }], version: 7 };
const body = JSON.stringify(catalog);
const etag = '"' + crypto.createHash('sha1').update(body).digest('hex').slice(0, 16) + '"';
fastify.get('/', async (req, reply) => reply.type('text/html').send(`<!doctype html><html><head><title>Tea shop</title></head><body>
<h1>Tea shop</h1><ul id="products"></ul><p id="config"></p><button id="again">Refresh</button>
<script>
async function show() {
  const cat = await (await fetch('/api/catalog')).json();
  document.getElementById('products').innerHTML = cat.products.map((p) => '<li>' + p.name + ' ' + p.price + '</li>').join('');
  const cfg = await (await fetch('/api/config')).json();
  document.getElementById('config').textContent = 'currency ' + cfg.currency;
  document.body.dataset.shown = (Number(document.body.dataset.shown || 0) + 1);
}
document.getElementById('again').onclick = show;
show();
</script></body></html>`));
fastify.get('/api/catalog', async (req, reply) => {
  reply.header('etag', etag).header('cache-control', 'no-cache');
  if (req.headers['if-none-match'] === etag) return reply.code(304).send();
  return reply.type('application/json').send(body);
});
fastify.get('/api/config', async (req, reply) => {
  reply.header('cache-control', 'public, max-age=600');
  return { currency: 'EUR', features: ['gift-wrap'] };
});
fastify.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
