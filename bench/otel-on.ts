/**
 * `BENCH_OTEL=1`: preloaded (`node --import`) into the processes a benchmark measures, so their
 * cost with OpenTelemetry on is what an app with the SDK pays: a real tracer provider
 * (sdk-trace-base, BatchSpanProcessor as NodeSDK uses), the async-hooks context manager, the
 * W3C propagator (the balancer injects `traceparent`), and a real MeterProvider whose reader
 * collects every 10 s. Both exporters discard what they get: the cost measured is unpinned's
 * spans and metric records plus the SDK's own work, not a network exporter's.
 *
 * `BENCH_OTEL=traces` or `BENCH_OTEL=metrics` registers only that half, to tell the costs apart.
 */
import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  AggregationTemporality,
  MeterProvider,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
} from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { otelParts } from './otel.js';

const SUCCESS = 0; // ExportResultCode.SUCCESS

const discardSpans: SpanExporter = {
  export: (_spans, done) => done({ code: SUCCESS }),
  shutdown: async () => {},
};

const discardMetrics: PushMetricExporter = {
  export: (_metrics, done) => done({ code: SUCCESS }),
  forceFlush: async () => {},
  shutdown: async () => {},
  selectAggregationTemporality: () => AggregationTemporality.CUMULATIVE,
};

const parts = otelParts();
if (parts.traces) {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(
    new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(discardSpans)] }),
  );
}
if (parts.metrics) {
  metrics.setGlobalMeterProvider(
    new MeterProvider({
      readers: [
        new PeriodicExportingMetricReader({ exporter: discardMetrics, exportIntervalMillis: 10_000 }),
      ],
    }),
  );
}
