/**
 * The `BENCH_OTEL` switch of bench:session and bench:balancer: off (unset, empty or "0") runs
 * today's path; "1" preloads bench/otel-on.ts (traces and metrics) into the processes under
 * test; "traces" or "metrics" preloads only that half. The benchmark process itself, the load
 * generator, never loads the SDK.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export interface OtelParts {
  traces: boolean;
  metrics: boolean;
}

/** Which halves `BENCH_OTEL` asks for. */
export function otelParts(value = process.env.BENCH_OTEL): OtelParts {
  const v = (value ?? '').trim();
  if (v === '' || v === '0') return { traces: false, metrics: false };
  return { traces: v !== 'metrics', metrics: v !== 'traces' };
}

/** True when any half is on: the `otel` field of a benchmark's JSON. */
export function otelOn(): boolean {
  const parts = otelParts();
  return parts.traces || parts.metrics;
}

/** Node flags for a measured process: `--import` of the SDK setup when on, nothing when off. */
export function otelNodeArgs(benchDir: string): string[] {
  return otelOn() ? ['--import', pathToFileURL(join(benchDir, 'otel-on.js')).href] : [];
}
