/**
 * `@opentelemetry/api` is an optional peer: with the module made unresolvable (a resolve hook
 * in a child process, as on a machine where it is not installed), the built package still loads
 * and sessions and the balancer work.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

const hook = `
export async function resolve(specifier, context, next) {
  if (specifier.startsWith('@opentelemetry/')) throw Object.assign(new Error('not installed: ' + specifier), { code: 'ERR_MODULE_NOT_FOUND' });
  return next(specifier, context);
}`;
const register = `import { register } from 'node:module'; register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}));`;

const program = `
const { otelApi } = await import('./dist/src/observe/otel.js');
const { createSessions } = await import('./dist/src/session/index.js');
const { memoryStore } = await import('./dist/src/stores/memory/index.js');
const { createBalancer } = await import('./dist/src/balancer/index.js');
process.removeAllListeners('warning');
const sessions = createSessions({ store: memoryStore() });
const first = sessions.fromCookie(null, { secure: false });
await first.set('cart', ['tea']);
const { setCookie } = await first.commit();
const again = sessions.fromCookie(setCookie.split(';')[0], { secure: false });
const cart = await again.get('cart');
await again.commit();
const lb = createBalancer({ backends: ['http://127.0.0.1:9'] });
const text = await lb.metrics();
console.log(JSON.stringify({ api: otelApi() === null, cart, loads: sessions.metrics.loads, lb: text.includes('unpinned_lb_retries_total 0') }));
`;

it('works without @opentelemetry/api installed', () => {
  const out = execFileSync(
    process.execPath,
    [
      '--no-warnings',
      '--import',
      `data:text/javascript,${encodeURIComponent(register)}`,
      '--input-type=module',
      '-e',
      program,
    ],
    { cwd: root, encoding: 'utf8' },
  );
  expect(JSON.parse(out.trim().split('\n').at(-1)!)).toEqual({
    api: true,
    cart: ['tea'],
    loads: 1,
    lb: true,
  });
});
