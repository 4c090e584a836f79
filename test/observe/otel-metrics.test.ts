/**
 * Metrics through the app's OpenTelemetry meter: with a real `@opentelemetry/sdk-metrics`
 * MeterProvider registered globally before the sessions and the balancer are created, the SDK's
 * reader collects the very metrics Prometheus scrapes, under the same names, with the same
 * values, labels as attributes and the same histogram buckets. Before a provider is registered,
 * unpinned asks for no meter at all.
 */
import { metrics } from '@opentelemetry/api';
import {
  DataPointType,
  type HistogramMetricData,
  MeterProvider,
  type MetricData,
  MetricReader,
} from '@opentelemetry/sdk-metrics';
import { afterAll, expect, it } from 'vitest';
import { createBalancer } from '../../src/balancer/index.js';
import { activeMeter } from '../../src/observe/otel.js';
import { createSessions } from '../../src/session/index.js';
import { memoryStore } from '../../src/stores/memory/index.js';
import { SystemMetrics } from '../../src/system/metrics.js';

/** A pull reader the test collects from by hand (the SDK's contract for any reader). */
class TestReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

afterAll(() => metrics.disable());

/**
 * Metric names in a Prometheus exposition that have samples (`# TYPE <name>` and a series line):
 * the OTel SDK reports an instrument once it has a data point, as a labelled counter nobody
 * incremented yet has none in either.
 */
function promNames(text: string): string[] {
  const lines = text.split('\n');
  return [...text.matchAll(/^# TYPE (\S+) \S+$/gm)]
    .map((m) => m[1]!)
    .filter((name) =>
      lines.some(
        (l) =>
          /^[a-z_]+[{ ]/.test(l) &&
          (l.startsWith(`${name}{`) || l.startsWith(`${name} `) || l.startsWith(`${name}_bucket{`)),
      ),
    )
    .sort();
}

async function collect(reader: TestReader): Promise<Map<string, MetricData>> {
  const { resourceMetrics, errors } = await reader.collect();
  expect(errors).toEqual([]);
  const byName = new Map<string, MetricData>();
  for (const scope of resourceMetrics.scopeMetrics)
    for (const m of scope.metrics) byName.set(m.descriptor.name, m);
  return byName;
}

const pointValue = (m: MetricData | undefined, attributes: Record<string, string> = {}) =>
  m?.dataPoints.find((p) => JSON.stringify(p.attributes) === JSON.stringify(attributes))?.value;

it('asks for no meter while the app has registered no MeterProvider', () => {
  expect(activeMeter('unpinned.session')).toBeUndefined();
});

it("reports the sessions', the balancer's and the supervisor's metrics under their Prometheus names", async () => {
  const reader = new TestReader();
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
  expect(activeMeter('unpinned.session')).toBeDefined();

  const sessions = createSessions({ store: memoryStore() });
  const first = sessions.fromCookie(null, { secure: false });
  await first.set('cart', ['tea']);
  const { setCookie } = await first.commit();
  for (let i = 0; i < 3; i++) {
    const again = sessions.fromCookie(setCookie!.split(';')[0]!, { secure: false });
    expect(await again.get('cart')).toEqual(['tea']);
    await again.commit();
  }
  const lb = createBalancer({ backends: [{ id: 'a', url: 'http://127.0.0.1:9' }] });
  const system = new SystemMetrics({
    servers: () => [{ state: 'up' }, { state: 'down' }],
    storeUp: () => true,
  });
  system.kills = 2;

  const otel = await collect(reader);
  // The same names as the Prometheus exposition of each part, every one of them.
  const prom = [await sessions.prometheus(), await lb.metrics(), await system.text()].map(promNames);
  for (const names of prom) expect(names.length).toBeGreaterThan(3);
  expect([...otel.keys()].sort()).toEqual(prom.flat().sort());

  // The same values.
  expect(pointValue(otel.get('unpinned_session_loads_total'))).toBe(3);
  expect(pointValue(otel.get('unpinned_session_hits_total'))).toBe(3);
  expect(pointValue(otel.get('unpinned_session_creates_total'))).toBe(1);
  expect(pointValue(otel.get('unpinned_system_kills_total'))).toBe(2);
  expect(pointValue(otel.get('unpinned_system_servers'), { state: 'down' })).toBe(1);
  const serverUp = otel.get('unpinned_lb_server_up')!.dataPoints.find((p) => p.attributes.server === 'a');
  expect(serverUp?.value).toBe(
    Number(/^unpinned_lb_server_up\{server="a",[^}]*\} (\d)$/m.exec(await lb.metrics())![1]),
  );

  // A histogram: labels as attributes, seconds as the unit, Prometheus's bucket boundaries.
  const duration = otel.get('unpinned_session_store_duration_seconds') as HistogramMetricData;
  expect(duration.dataPointType).toBe(DataPointType.HISTOGRAM);
  expect(duration.descriptor.unit).toBe('s');
  const loads = duration.dataPoints.find((p) => p.attributes.operation === 'load')!;
  expect(loads.attributes).toEqual({ store: 'memory', operation: 'load' });
  expect(loads.value.count).toBe(3);
  const les = (await sessions.prometheus())
    .split('\n')
    .filter(
      (l) =>
        l.startsWith('unpinned_session_store_duration_seconds_bucket{') && l.includes('operation="load"'),
    )
    .map((l) => /le="([^"]+)"/.exec(l)![1]!)
    .filter((le) => le !== '+Inf')
    .map(Number);
  expect(les.length).toBeGreaterThan(3);
  expect(loads.value.buckets.boundaries).toEqual(les);
  const bytes = otel.get('unpinned_session_bytes') as HistogramMetricData;
  expect(bytes.descriptor.unit).toBe('By');
  expect(bytes.dataPoints[0]!.value.count).toBe(3);

  await lb.close();
  await sessions.close();
});
