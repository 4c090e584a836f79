/**
 * A real Prometheus (Debian's package) scrapes `unpinned up`: the balancer (through the control
 * API's /metrics, with the supervisor's metrics) and two shop servers (their own prom-client
 * registry with the session metrics). PromQL through its HTTP API returns the request count the
 * test sent and the session counts. The shipped alert rules load and pass `promtool check rules`,
 * and every expression of the Grafana dashboard parses in that Prometheus.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { findBinary } from '../../src/system/binaries.js';
import { startControl } from '../../src/system/control.js';
import { System } from '../../src/system/supervisor.js';
import { describeWith } from '../helpers/balancers.js';
import { describeRedis, freePort } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/wait.js';

const prometheusBin = findBinary('prometheus') ?? '/usr/bin/prometheus';
const alerts = fileURLToPath(new URL('../../deploy/prometheus/alerts.yml', import.meta.url));
const grafana = fileURLToPath(new URL('../../deploy/grafana/unpinned.json', import.meta.url));

describeWith('promtool', 'deploy/prometheus/alerts.yml', () => {
  it('passes promtool check rules', () => {
    const out = execFileSync(findBinary('promtool')!, ['check', 'rules', alerts], { encoding: 'utf8' });
    expect(out).toMatch(/SUCCESS: \d+ rules found/);
  });
});

describeWith('prometheus', 'a real Prometheus', () =>
  describeRedis('scrapes unpinned up', () => {
    let system: System | undefined;
    let control: Awaited<ReturnType<typeof startControl>> | undefined;
    let prometheus: ChildProcess | undefined;
    const dir = mkdtempSync(join(tmpdir(), 'unpinned-prom-'));

    afterAll(async () => {
      if (prometheus && prometheus.exitCode === null) {
        const exited = new Promise((resolve) => prometheus!.once('exit', resolve));
        prometheus.kill('SIGTERM');
        await exited;
      }
      control?.server.closeAllConnections();
      await new Promise((resolve) => (control ? control.server.close(resolve) : resolve(undefined)));
      await system?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('PromQL returns the requests sent and the session metrics', async () => {
      system = new System({ servers: 2, port: 0, store: 'redis' });
      await system.start();
      control = await startControl(system, 0);
      const apps = system.status().servers.map((s) => new URL(s.url).host);
      const port = await freePort();
      writeFileSync(
        join(dir, 'prometheus.yml'),
        [
          'global: { scrape_interval: 1s, evaluation_interval: 1s }',
          `rule_files: [${JSON.stringify(alerts)}]`,
          'scrape_configs:',
          '  - job_name: unpinned-balancer',
          `    static_configs: [{ targets: [${JSON.stringify(new URL(control.url).host)}] }]`,
          '  - job_name: unpinned-app',
          `    static_configs: [{ targets: [${apps.map((a) => JSON.stringify(a)).join(', ')}] }]`,
        ].join('\n'),
      );
      prometheus = spawn(
        prometheusBin,
        [
          `--config.file=${join(dir, 'prometheus.yml')}`,
          `--storage.tsdb.path=${join(dir, 'data')}`,
          `--web.listen-address=127.0.0.1:${port}`,
        ],
        { stdio: 'ignore' },
      );
      const api = `http://127.0.0.1:${port}/api/v1`;
      const query = async (promql: string) => {
        const res = await fetch(`${api}/query?query=${encodeURIComponent(promql)}`);
        const body = (await res.json()) as {
          data: { result: { metric: Record<string, string>; value: [number, string] }[] };
        };
        return body.data.result;
      };
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/-/ready`)).ok, {
        what: 'Prometheus ready',
        timeoutMs: 30_000,
        intervalMs: 100,
      });

      // 20 requests: 2 logins (session created), then 9 cart views each (session loads).
      let cookieA = '';
      let cookieB = '';
      for (const [name, set] of [
        ['ann', (c: string) => (cookieA = c)],
        ['bob', (c: string) => (cookieB = c)],
      ] as const) {
        const res = await fetch(`${system.url}/api/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ user: name }),
          redirect: 'manual',
        });
        await res.arrayBuffer();
        set(res.headers.get('set-cookie')!.split(';')[0]!);
      }
      for (let i = 0; i < 9; i++) {
        for (const cookie of [cookieA, cookieB]) {
          const res = await fetch(`${system.url}/api/me`, { headers: { cookie } });
          expect(res.status).toBe(200);
          await res.arrayBuffer();
        }
      }

      // Every target up, then the counts as sent.
      await waitFor(async () => (await query('up == 1')).length === 3, {
        what: 'three targets up',
        timeoutMs: 30_000,
      });
      await waitFor(
        async () =>
          (await query('sum(unpinned_lb_requests_total{job="unpinned-balancer"})'))[0]?.value[1] === '20',
        { what: 'twenty requests counted by the balancer', timeoutMs: 30_000, intervalMs: 200 },
      );
      await waitFor(
        async () =>
          (await query('sum(unpinned_session_creates_total{job="unpinned-app"})'))[0]?.value[1] === '2',
        { what: 'two sessions created', timeoutMs: 30_000, intervalMs: 200 },
      );
      await waitFor(
        async () => Number((await query('sum(unpinned_session_hits_total)'))[0]?.value[1]) >= 18,
        {
          what: 'eighteen session hits',
          timeoutMs: 30_000,
          intervalMs: 200,
        },
      );
      const perServer = await query('sum by (server) (unpinned_lb_requests_total)');
      expect(perServer.length).toBe(2);
      const loads = await query(
        'sum(unpinned_session_store_duration_seconds_count{operation="load",store="redis"})',
      );
      expect(Number(loads[0]!.value[1])).toBeGreaterThanOrEqual(18);
      expect((await query('unpinned_system_store_up'))[0]!.value[1]).toBe('1');
      expect((await query('sum(unpinned_system_servers{state="up"})'))[0]!.value[1]).toBe('2');

      // The alert rules loaded; none fires on a healthy system.
      const rules = (await (await fetch(`${api}/rules`)).json()) as {
        data: { groups: { rules: unknown[] }[] };
      };
      expect(rules.data.groups[0]!.rules.length).toBeGreaterThanOrEqual(5);
      const firing = (await (await fetch(`${api}/alerts`)).json()) as {
        data: { alerts: { state: string }[] };
      };
      expect(firing.data.alerts.filter((a) => a.state === 'firing')).toEqual([]);

      // Every query of the Grafana dashboard parses (Grafana's $__rate_interval → a range).
      const dashboard = JSON.parse(readFileSync(grafana, 'utf8')) as {
        panels: { targets: { expr: string }[] }[];
      };
      for (const panel of dashboard.panels) {
        for (const target of panel.targets) {
          const expr = target.expr.replaceAll('$__rate_interval', '1m');
          const res = await fetch(`${api}/query?query=${encodeURIComponent(expr)}`);
          expect(res.status, expr).toBe(200);
        }
      }
    });
  }),
);
