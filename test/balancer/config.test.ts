import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveSettings } from '../../src/balancer/config.js';
import { BalancerError, createBalancer } from '../../src/balancer/index.js';
import { mergeOptions, parseAddress } from '../../src/cli/lb.js';

describe('options', () => {
  it('fills the documented defaults', () => {
    const s = resolveSettings({ backends: ['http://127.0.0.1:3001'] });
    expect(s.strategy).toBe('round-robin');
    expect(s.healthCheck).toBeUndefined();
    expect([s.consecutiveFailures, s.cooldownMs, s.maxEjectionPercent, s.panicThresholdPercent]).toEqual([
      5, 30_000, 50, 50,
    ]);
    expect(s.retry).toEqual({
      maxAttempts: 3,
      idempotent: false,
      staleConnections: true,
      onStatus: [502, 503, 504],
      budgetPercent: 20,
      minConcurrency: 3,
    });
    expect(s.servedByHeader).toBeUndefined();
    expect(s.stickyCookie).toBe('SRV');
    expect(resolveSettings({ healthCheck: { path: '/health' } }).healthCheck).toEqual({
      path: '/health',
      intervalMs: 2000,
      timeoutMs: 1000,
      rise: 2,
      fall: 3,
    });
  });

  it.each([
    [{ strategy: 'fastest' }, 'strategy'],
    [{ retry: { maxAttempts: 0 } }, 'retry.maxAttempts'],
    [{ healthCheck: { path: 'health' } }, 'healthCheck.path'],
    [{ panicThresholdPercent: 120 }, 'panicThresholdPercent'],
    [{ servedByHeader: 'bad header' }, 'servedByHeader'],
    [{ trustedProxies: ['not-an-ip/8'] }, 'trustedProxies'],
    [{ backends: ['ftp://x'] }, 'backends[].url'],
    [{ limits: { maxHeaderCount: 0 } }, 'limits.maxHeaderCount'],
  ])('rejects %j naming the option', (options, name) => {
    let error: unknown;
    try {
      createBalancer(options as never);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(BalancerError);
    expect((error as BalancerError).code).toBe('UNPINNED_ERR_LB_INVALID_OPTION');
    expect((error as BalancerError).message).toContain(`"${name}"`);
  });

  it('CLI flags override the config file', () => {
    const merged = mergeOptions(
      {
        backends: ['http://127.0.0.1:1'],
        strategy: 'random',
        retry: { budgetPercent: 10 },
        admin: { listen: ':9' },
      },
      {
        backend: ['http://127.0.0.1:2'],
        trustedProxy: [],
        strategy: 'p2c',
        retryIdempotent: true,
        adminToken: 't',
      },
    );
    expect(merged.backends).toEqual(['http://127.0.0.1:2']);
    expect(merged.strategy).toBe('p2c');
    expect(merged.retry).toEqual({ budgetPercent: 10, idempotent: true });
    expect(merged.admin).toEqual({ port: 9, host: '127.0.0.1', token: 't' });
  });

  it('limit flags refine the config file', () => {
    const merged = mergeOptions(
      { limits: { maxHeaderBytes: 8192, maxHeaderCount: 50 } },
      { backend: [], trustedProxy: [], maxHeaderCount: 200 },
    );
    expect(merged.limits).toEqual({ maxHeaderBytes: 8192, maxHeaderCount: 200 });
  });

  it('health flags refine the config file without repeating the path', () => {
    const merged = mergeOptions(
      { healthCheck: { path: '/ready', intervalMs: 500 } },
      { backend: [], trustedProxy: [], fall: 5 },
    );
    expect(merged.healthCheck).toEqual({ path: '/ready', intervalMs: 500, fall: 5 });
  });

  it.each([
    [':8080', { host: '0.0.0.0', port: 8080 }],
    ['127.0.0.1:80', { host: '127.0.0.1', port: 80 }],
    ['[::1]:9090', { host: '::1', port: 9090 }],
    ['3000', { host: '0.0.0.0', port: 3000 }],
  ])('parses --listen %s', (value, expected) => {
    expect(parseAddress(value, '0.0.0.0', '--listen')).toEqual(expected);
  });
});

describe('boundaries (DESIGN.md §2)', () => {
  it('the balancer imports nothing from the session core or the stores', () => {
    const dir = new URL('../../src/balancer/', import.meta.url).pathname;
    const files = readdirSync(dir, { recursive: true })
      .map(String)
      .filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(10);
    for (const file of files) {
      const text = readFileSync(join(dir, file), 'utf8');
      expect(text, file).not.toMatch(/from '(\.\.\/)+(session|stores|adapters)\//);
    }
  });
});
