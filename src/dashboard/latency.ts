/**
 * Latency percentiles per server from the balancer's `/metrics` histogram, the way Prometheus's
 * `histogram_quantile` computes them: the bucket counts of a recent window (the difference of two
 * scrapes), with linear interpolation inside the bucket that holds the rank. A percentile is
 * therefore accurate to its bucket (1, 2.5, 5, 10, 25, 50, 100, 250 ms, …), which is what any
 * Prometheus dashboard over the same balancer would show.
 */

/** Cumulative bucket counts per server, keyed by upper bound in seconds (+Inf as Infinity). */
export type Histograms = Map<string, Map<number, number>>;

const bucketLine =
  /^unpinned_lb_request_duration_seconds_bucket\{server="((?:[^"\\]|\\.)*)",le="([^"]+)"\} (\d+)/;

/** The request-duration histograms of a Prometheus exposition text. */
export function parseHistograms(metrics: string): Histograms {
  const result: Histograms = new Map();
  for (const line of metrics.split('\n')) {
    const m = bucketLine.exec(line);
    if (!m) continue;
    const server = m[1]!.replace(/\\(.)/g, '$1');
    let buckets = result.get(server);
    if (!buckets) {
      buckets = new Map();
      result.set(server, buckets);
    }
    buckets.set(m[2] === '+Inf' ? Number.POSITIVE_INFINITY : Number(m[2]), Number(m[3]));
  }
  return result;
}

export interface Percentiles {
  p50: number | null;
  p95: number | null;
  p99: number | null;
  /** Requests the window saw. */
  count: number;
}

/** Percentiles in milliseconds of what happened between `before` and `after` (cumulative buckets). */
export function windowPercentiles(
  before: Map<number, number> | undefined,
  after: Map<number, number> | undefined,
): Percentiles {
  const bounds = [...(after?.keys() ?? [])].sort((a, b) => a - b);
  const counts = bounds.map((le) => Math.max(0, (after!.get(le) ?? 0) - (before?.get(le) ?? 0)));
  const total = counts[counts.length - 1] ?? 0;
  const q = (quantile: number): number | null => {
    if (total === 0) return null;
    const rank = quantile * total;
    for (let i = 0; i < bounds.length; i++) {
      if (counts[i]! < rank) continue;
      const upper = bounds[i]!;
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      // The open-ended bucket has no upper bound: report its lower one, as Prometheus does.
      if (!Number.isFinite(upper)) return lower * 1000;
      const below = i === 0 ? 0 : counts[i - 1]!;
      const inBucket = counts[i]! - below;
      const share = inBucket === 0 ? 1 : (rank - below) / inBucket;
      return (lower + (upper - lower) * share) * 1000;
    }
    return null;
  };
  return { p50: q(0.5), p95: q(0.95), p99: q(0.99), count: total };
}

/** All servers' buckets added up (the balancer as a whole). */
export function sumHistograms(histograms: Histograms): Map<number, number> {
  const sum = new Map<number, number>();
  for (const buckets of histograms.values())
    for (const [le, n] of buckets) sum.set(le, (sum.get(le) ?? 0) + n);
  return sum;
}
