/**
 * `unpinned config haproxy|nginx`: the configs they print pass HAProxy's and
 * nginx's own validators, in every variant, and say what they are meant to.
 */
import { execFile } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { haproxyConfig } from '../../src/config/haproxy.js';
import { nginxConfig } from '../../src/config/nginx.js';
import { type ProxyConfigInput, resolveProxyConfig } from '../../src/config/options.js';
import { checkHaproxy, checkNginx, describeWith, tempDir } from '../helpers/balancers.js';

const run = promisify(execFile);
const cli = join(import.meta.dirname, '..', '..', 'dist', 'src', 'cli', 'index.js');
const backends = ['http://10.0.0.5:3000', 'http://10.0.0.6:3000', 'http://[::1]:3002'];
const variants: [string, Partial<ProxyConfigInput>][] = [
  ['round-robin', {}],
  ['least-connections', { strategy: 'least-connections' }],
  ['sticky (migration)', { sticky: true }],
  [
    'custom health and timeouts',
    { healthPath: '/up', intervalMs: 500, rise: 1, fall: 2, listen: '127.0.0.1:9000' },
  ],
];

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('balancer configs', () => {
  it('refuses what no balancer could use', () => {
    expect(() => resolveProxyConfig({ backends: [] })).toThrow(/--backend/);
    expect(() => resolveProxyConfig({ backends: ['http://a:1/path'] })).toThrow(/no path/);
    expect(() => resolveProxyConfig({ backends: ['https://a:1'] })).toThrow(/--backend/);
    expect(() => resolveProxyConfig({ backends, strategy: 'random' as never })).toThrow(/--strategy/);
    expect(() => resolveProxyConfig({ backends, healthPath: '/x; rm -rf' })).toThrow(/--health-path/);
  });

  it('HAProxy: checks health on the app path, retries only unsent requests, sticky only when asked', () => {
    const plain = haproxyConfig(resolveProxyConfig({ backends, strategy: 'least-connections' }));
    expect(plain).toContain('balance leastconn');
    expect(plain).toContain('http-check send meth GET uri /healthz');
    expect(plain).toContain(
      'default-server check inter 2000ms rise 2 fall 3 slowstart 10000ms init-addr last,libc,none',
    );
    expect(plain).toContain('retry-on conn-failure');
    expect(plain).toContain('server app3 [::1]:3002\n');
    expect(plain).not.toMatch(/^\s*cookie /m);
    const sticky = haproxyConfig(resolveProxyConfig({ backends, sticky: true }));
    expect(sticky).toContain('balance roundrobin');
    expect(sticky).toContain('cookie SRV insert indirect nocache');
    expect(sticky).toContain('server app1 10.0.0.5:3000 cookie app1');
  });

  it('nginx: passive health, next upstream on failures, keep-alive; sticky hashes the session cookie', () => {
    const plain = nginxConfig(resolveProxyConfig({ backends, strategy: 'least-connections', fall: 4 }));
    expect(plain).toContain('least_conn;');
    expect(plain).toContain('server 10.0.0.5:3000 max_fails=4 fail_timeout=8s;');
    expect(plain).toContain('proxy_next_upstream error timeout;');
    expect(plain).toContain('keepalive 32;');
    expect(plain).not.toContain('hash ');
    const sticky = nginxConfig(resolveProxyConfig({ backends, sticky: true, sessionCookie: 'shop_sid' }));
    expect(sticky).toContain('hash $cookie_shop_sid consistent;');
    expect(sticky).not.toContain('least_conn');
  });

  describeWith('haproxy', 'haproxy -c', () => {
    it.each(variants)('accepts the %s variant', async (_name, extra) => {
      const out = await checkHaproxy(haproxyConfig(resolveProxyConfig({ backends, ...extra })));
      expect(out).toContain('Configuration file is valid');
    });

    it('rejects a broken config (the validator is really asked)', async () => {
      const broken = haproxyConfig(resolveProxyConfig({ backends })).replace(
        'balance roundrobin',
        'balance nope',
      );
      await expect(checkHaproxy(broken)).rejects.toThrow(/balance only supports/);
    });
  });

  describeWith('nginx', 'nginx -t', () => {
    it.each(variants)('accepts the %s variant', async (_name, extra) => {
      const dir = tempDir();
      dirs.push(dir);
      const out = await checkNginx(
        nginxConfig(resolveProxyConfig({ backends, ...extra }), { runDir: dir }),
        dir,
      );
      expect(out).toContain('test is successful');
    });

    it('rejects a broken config (the validator is really asked)', async () => {
      const dir = tempDir();
      dirs.push(dir);
      const broken = nginxConfig(resolveProxyConfig({ backends }), { runDir: dir }).replace(
        'keepalive 32',
        'keepalive x',
      );
      await expect(checkNginx(broken, dir)).rejects.toThrow(/keepalive/);
    });
  });

  describe('the CLI', () => {
    it('prints the HAProxy config to stdout', async () => {
      const { stdout } = await run(process.execPath, [
        cli,
        'config',
        'haproxy',
        '--backend',
        'http://127.0.0.1:3001',
        '--backend',
        'http://127.0.0.1:3002',
        '--strategy',
        'least-connections',
      ]);
      expect(stdout).toContain('balance leastconn');
      expect(stdout.match(/^ {2}server /gm)).toHaveLength(2);
    });

    it('writes the nginx config with --out, and fails clearly without a backend', async () => {
      const dir = tempDir();
      dirs.push(dir);
      const out = join(dir, 'nginx.conf');
      await run(process.execPath, [
        cli,
        'config',
        'nginx',
        '-b',
        'http://127.0.0.1:3001',
        '--sticky',
        '--out',
        out,
      ]);
      expect(readFileSync(out, 'utf8')).toContain('hash $cookie_sid consistent;');
      const failed = await run(process.execPath, [cli, 'config', 'nginx']).catch(
        (e: { stderr: string; code: number }) => e,
      );
      expect(failed).toMatchObject({
        code: 1,
        stderr: expect.stringMatching(/--backend.*UNPINNED_ERR_LB_INVALID_OPTION/),
      });
    });
  });
});
