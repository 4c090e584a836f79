/**
 * deploy/: what can be checked without a container engine. The YAML parses and
 * says what docs/production.md says it does; the HAProxy config is exactly what
 * `unpinned config haproxy` generates and passes `haproxy -c`; the image's
 * command is a file the build produces. (Building the image and running compose
 * or Kubernetes is not done here: no Docker engine or cluster on the test machine.)
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { haproxyConfig } from '../../src/config/haproxy.js';
import { resolveProxyConfig } from '../../src/config/options.js';
import { checkHaproxy, describeWith } from '../helpers/balancers.js';

const root = join(import.meta.dirname, '..', '..');
const read = (path: string) => readFileSync(join(root, 'deploy', path), 'utf8');

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML, navigated freely by the assertions
function documents(path: string): Record<string, any>[] {
  const docs = parseAllDocuments(read(path), { merge: true });
  for (const doc of docs) expect(doc.errors, path).toEqual([]);
  return docs.map((d) => d.toJS());
}

const composeHaproxy = () =>
  haproxyConfig(
    resolveProxyConfig({ backends: ['http://shop1:3000', 'http://shop2:3000', 'http://shop3:3000'] }),
    { adminSocket: '/var/lib/haproxy/admin.sock' },
  );

describe('deploy/', () => {
  it('compose: redis, three shops on it, HAProxy in front with the generated config', () => {
    const [compose] = documents('compose.yaml');
    const services = compose!.services;
    expect(Object.keys(services).sort()).toEqual(['haproxy', 'redis', 'shop1', 'shop2', 'shop3']);
    for (const name of ['shop1', 'shop2', 'shop3']) {
      expect(services[name].environment).toEqual({ REDIS_URL: 'redis://redis:6379', SERVER_NAME: name });
      expect(services[name].build.dockerfile).toBe('deploy/Dockerfile');
    }
    expect(services.redis.command).toEqual(expect.arrayContaining(['--maxmemory-policy', 'noeviction']));
    expect(services.haproxy.volumes).toContain('./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro');
  });

  it('haproxy.cfg is what `unpinned config haproxy` generates for the compose servers', () => {
    expect(read('haproxy.cfg')).toBe(composeHaproxy());
  });

  describeWith('haproxy', 'deploy/haproxy.cfg under haproxy -c', () => {
    it('is valid', async () => {
      expect(await checkHaproxy(read('haproxy.cfg'))).toContain('Configuration file is valid');
    });
  });

  it('Kubernetes: readiness on /healthz, a preStop drain inside the grace period, a Service without affinity', () => {
    const objects = [...documents('k8s/shop.yaml'), ...documents('k8s/redis.yaml')];
    const kinds = objects.map((o) => `${o.kind}/${o.metadata.name}`);
    expect(kinds).toEqual([
      'Deployment/shop',
      'Service/shop',
      'Secret/shop-redis',
      'StatefulSet/redis',
      'Service/redis',
    ]);
    const deployment = objects[0]!;
    const pod = deployment.spec.template.spec;
    const shop = pod.containers[0];
    expect(shop.readinessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    const drainSeconds = Number(/sleep (\d+)/.exec(shop.lifecycle.preStop.exec.command.join(' '))![1]);
    expect(drainSeconds).toBeGreaterThan(0);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(drainSeconds);
    expect(deployment.spec.selector.matchLabels).toEqual(objects[1]!.spec.selector);
    expect(objects[1]!.spec.sessionAffinity).toBeUndefined();
    expect(objects[3]!.spec.template.spec.containers[0].args).toEqual(
      expect.arrayContaining(['--appendonly', 'yes', '--maxmemory-policy', 'noeviction']),
    );
  });

  it('the image runs a file the build produces, listening beyond loopback', () => {
    const dockerfile = read('Dockerfile');
    const cmd = JSON.parse(/^CMD (.+)$/m.exec(dockerfile)![1]!) as string[];
    expect(cmd[0]).toBe('node');
    expect(existsSync(join(root, cmd[1]!))).toBe(true);
    expect(dockerfile).toMatch(/HOST=0\.0\.0\.0/);
  });
});
