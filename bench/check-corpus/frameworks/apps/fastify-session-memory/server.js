const fastify = require('fastify')({ logger: false });
fastify.register(require('@fastify/formbody'));
fastify.register(require('@fastify/cookie'));
fastify.register(require('@fastify/session'), {
  secret: 'a-fixed-secret-that-is-at-least-32-chars-long!!',
  cookieName: 'sessionId',
  cookie: { secure: false, httpOnly: true, path: '/' },
  saveUninitialized: false,
});
const page = (title, body) => `<!doctype html><html><head><title>${title}</title></head><body><h1>${title}</h1>${body}</body></html>`;
fastify.get('/', async (req, reply) => {
  reply.type('text/html');
  if (req.session.user) return page('Home', `<p>Welcome back, ${req.session.user}</p><a href="/dashboard">dashboard</a>`);
  return page('Home', `<a href="/login">Log in</a>`);
});
fastify.get('/login', async (req, reply) => {
  reply.type('text/html');
  return page('Log in', `<form method="post" action="/login"><input name="user"><input name="password" type="password"><button>Log in</button></form>`);
});
fastify.post('/login', async (req, reply) => {
  if (req.body.password !== 'secret') return reply.code(401).type('text/html').send(page('Nope', 'bad password'));
  req.session.user = req.body.user;
  req.session.visits = 0;
  return reply.redirect('/dashboard');
});
fastify.get('/dashboard', async (req, reply) => {
  if (!req.session.user) return reply.redirect('/login');
  req.session.visits = (req.session.visits || 0) + 1;
  reply.type('text/html');
  return page('Dashboard', `<p>Signed in as ${req.session.user}</p><p>Dashboard views: ${req.session.visits}</p><a href="/">home</a>`);
});
fastify.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
