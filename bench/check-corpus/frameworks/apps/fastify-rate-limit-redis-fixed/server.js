const fastify = require('fastify')({ logger: false });
(async () => {
  await fastify.register(require('@fastify/rate-limit'), { global: false, redis: new (require('ioredis'))(process.env.REDIS_URL) }); // shared store
  fastify.get('/', async (req, reply) => {
    reply.type('text/html');
    return `<!doctype html><html><head><title>Quotes</title></head><body><h1>Quote of the moment</h1>
<button id="more">Another quote</button><ul id="out"></ul>
<script>
document.getElementById('more').onclick = async () => {
  const r = await fetch('/api/quote');
  const li = document.createElement('li');
  li.textContent = r.ok ? (await r.json()).quote : 'Too many requests (' + r.status + ')';
  document.getElementById('out').appendChild(li);
};
</script></body></html>`;
  });
  const quotes = ['Simplicity is prerequisite for reliability.', 'Premature optimization is the root of all evil.', 'Make it work, make it right, make it fast.'];
  fastify.get('/api/quote', { config: { rateLimit: { max: 5, timeWindow: '1 minute' } } }, async (req) => {
    return { quote: quotes[0] };
  });
  await fastify.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
})();
