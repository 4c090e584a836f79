/** Percentiles from the balancer's histogram, as Prometheus's histogram_quantile computes them. */
import { describe, expect, it } from 'vitest';
import { parseHistograms, sumHistograms, windowPercentiles } from '../../src/dashboard/latency.js';

const scrape = (server: string, counts: [string, number][]) =>
  counts
    .map(([le, n]) => `unpinned_lb_request_duration_seconds_bucket{server="${server}",le="${le}"} ${n}`)
    .join('\n');

describe('latency percentiles from /metrics', () => {
  it('interpolates inside the bucket that holds the rank, over the window between two scrapes', () => {
    const before = parseHistograms(
      scrape('app-1', [
        ['0.001', 0],
        ['0.01', 0],
        ['0.1', 0],
        ['+Inf', 0],
      ]),
    );
    // 100 requests in the window: 50 under 1 ms, 40 from 1 to 10 ms, 10 from 10 to 100 ms.
    const after = parseHistograms(
      `# HELP x\n${scrape('app-1', [
        ['0.001', 50],
        ['0.01', 90],
        ['0.1', 100],
        ['+Inf', 100],
      ])}\nunpinned_lb_in_flight{server="app-1"} 3`,
    );
    const p = windowPercentiles(before.get('app-1'), after.get('app-1'));
    expect(p.count).toBe(100);
    expect(p.p50).toBeCloseTo(1, 6); // rank 50: the top of the first bucket
    expect(p.p95).toBeCloseTo(10 + 90 * 0.5, 6); // rank 95: half-way through 10–100 ms
    expect(p.p99).toBeCloseTo(10 + 90 * 0.9, 6);
  });

  it('reports the last finite bound for the open-ended bucket, and nothing for an empty window', () => {
    const after = parseHistograms(
      scrape('a', [
        ['0.5', 0],
        ['+Inf', 4],
      ]),
    );
    expect(windowPercentiles(undefined, after.get('a')).p99).toBe(500);
    expect(windowPercentiles(after.get('a'), after.get('a'))).toEqual({
      p50: null,
      p95: null,
      p99: null,
      count: 0,
    });
  });

  it('adds servers up and unescapes label values', () => {
    const all = parseHistograms(`${scrape('a\\"b', [['+Inf', 2]])}\n${scrape('c', [['+Inf', 3]])}`);
    expect([...all.keys()]).toEqual(['a"b', 'c']);
    expect(sumHistograms(all).get(Number.POSITIVE_INFINITY)).toBe(5);
  });
});
