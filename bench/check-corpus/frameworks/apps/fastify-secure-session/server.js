const fastify = require('fastify')({ logger: false });
fastify.register(require('@fastify/formbody'));
// key from the environment if given, else a fixed key (32 bytes, hex)
const key = Buffer.from(process.env.SESSION_KEY || 'd1f0c3a9b7e24f5c8a6d2e1b0f9c7a3e5b4d6f8a0c2e4b6d8f0a1c3e5b7d9f1a', 'hex');
fastify.register(require('@fastify/secure-session'), { key, cookieName: 'app-session', cookie: { path: '/', httpOnly: true } });
const page = (title, body) => `<!doctype html><html><head><title>${title}</title></head><body><h1>${title}</h1>${body}</body></html>`;
fastify.get('/', async (req, reply) => {
  reply.type('text/html');
  const user = req.session.get('user');
  if (user) return page('Home', `<p>Welcome back, ${user}</p><a href="/dashboard">dashboard</a>`);
  return page('Home', `<a href="/login">Log in</a>`);
});
fastify.get('/login', async (req, reply) => {
  reply.type('text/html');
  return page('Log in', `<form method="post" action="/login"><input name="user"><input name="password" type="password"><button>Log in</button></form>`);
});
fastify.post('/login', async (req, reply) => {
  if (req.body.password !== 'secret') return reply.code(401).type('text/html').send(page('Nope', 'bad password'));
  req.session.set('user', req.body.user);
  req.session.set('visits', 0);
  return reply.redirect('/dashboard');
});
fastify.get('/dashboard', async (req, reply) => {
  const user = req.session.get('user');
  if (!user) return reply.redirect('/login');
  const visits = (req.session.get('visits') || 0) + 1;
  req.session.set('visits', visits);
  reply.type('text/html');
  return page('Dashboard', `<p>Signed in as ${user}</p><p>Dashboard views: ${visits}</p><a href="/">home</a>`);
});
fastify.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
