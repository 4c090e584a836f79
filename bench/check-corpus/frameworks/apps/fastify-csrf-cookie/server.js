// @fastify/csrf-protection with @fastify/cookie: the secret goes in a (signed) cookie, double submit
const fastify = require('fastify')({ logger: false });
fastify.register(require('@fastify/formbody'));
fastify.register(require('@fastify/cookie'), { secret: process.env.COOKIE_SECRET || 'fixed-cookie-signing-secret-0123456789' });
fastify.register(require('@fastify/csrf-protection'), { cookieOpts: { signed: true, path: '/', httpOnly: true } });
fastify.register(async (app) => {
  const page = (t, b) => `<!doctype html><html><head><title>${t}</title></head><body><h1>${t}</h1>${b}</body></html>`;
  app.get('/', async (req, reply) => reply.type('text/html').send(page('Profile', '<a href="/settings">settings</a>')));
  app.get('/settings', async (req, reply) => {
    const token = reply.generateCsrf();
    return reply.type('text/html').send(page('Settings', `<form method="post" action="/settings"><input type="hidden" name="_csrf" value="${token}"><label>Display name <input name="name"></label><button>Save</button></form>`));
  });
  app.post('/settings', { preHandler: app.csrfProtection }, async (req, reply) => {
    reply.setCookie('name', req.body.name, { path: '/', signed: true });
    return reply.redirect('/saved');
  });
  app.get('/saved', async (req, reply) => {
    const c = req.cookies.name ? req.unsignCookie(req.cookies.name) : null;
    return reply.type('text/html').send(page('Saved', `<p>Display name is now ${c && c.valid ? c.value : '(none)'}</p>`));
  });
});
fastify.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
