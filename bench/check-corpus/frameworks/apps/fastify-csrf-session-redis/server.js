// @fastify/csrf-protection with @fastify/session (default MemoryStore): the CSRF secret lives in the session
const fastify = require('fastify')({ logger: false });
fastify.register(require('@fastify/formbody'));
fastify.register(require('@fastify/cookie'));
fastify.register(require('@fastify/session'), { secret: 'a-fixed-secret-that-is-at-least-32-chars-long!!', cookie: { secure: false }, saveUninitialized: true, store: new (require('connect-redis').default)({ client: new (require('ioredis'))(process.env.REDIS_URL) }) });
fastify.register(require('@fastify/csrf-protection'), { sessionPlugin: '@fastify/session' });
fastify.register(async (app) => {
  const page = (t, b) => `<!doctype html><html><head><title>${t}</title></head><body><h1>${t}</h1>${b}</body></html>`;
  app.get('/', async (req, reply) => reply.type('text/html').send(page('Profile', '<a href="/settings">settings</a>')));
  app.get('/settings', async (req, reply) => {
    const token = reply.generateCsrf();
    return reply.type('text/html').send(page('Settings', `<form method="post" action="/settings"><input type="hidden" name="_csrf" value="${token}"><label>Display name <input name="name"></label><button>Save</button></form>`));
  });
  app.post('/settings', { preHandler: app.csrfProtection }, async (req, reply) => {
    req.session.name = req.body.name;
    return reply.redirect('/saved');
  });
  app.get('/saved', async (req, reply) => reply.type('text/html').send(page('Saved', `<p>Display name is now ${req.session.name ?? '(none)'}</p>`)));
});
fastify.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
