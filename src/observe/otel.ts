/**
 * OpenTelemetry, optionally (DESIGN §14). `@opentelemetry/api` is an optional peer dependency:
 * it is imported once, when this module loads, and when it is not installed every helper here
 * answers "no tracer" and "no meter", so nothing is created and nothing is paid per request.
 *
 * With the API installed but no SDK registered, the API's own tracer is a no-op that still
 * allocates a span per call; `activeTracer()` asks the global provider for its delegate instead,
 * so the request paths skip tracing entirely until an application registers a real provider.
 */
import type * as OtelApi from '@opentelemetry/api';

export type Api = typeof OtelApi;
export type { Attributes, Context, Meter, Span, Tracer } from '@opentelemetry/api';

// The namespace, not its `default` (which holds only context, diag, metrics, propagation, trace).
const loaded: Api | null = await import('@opentelemetry/api').then(
  (module) => module as unknown as Api,
  () => null,
);

const packageVersion = '0.1.0';

/** The OpenTelemetry API, or null when the optional peer is not installed. */
export function otelApi(): Api | null {
  return loaded;
}

const tracers = new Map<string, OtelApi.Tracer>();

/**
 * The tracer of the registered SDK provider, or undefined when there is none (no API installed,
 * or the app registered no provider): callers skip all span work then.
 */
export function activeTracer(name: string): OtelApi.Tracer | undefined {
  if (loaded === null) return undefined;
  const cached = tracers.get(name);
  if (cached) return cached;
  const provider = loaded.trace.getTracerProvider() as Partial<OtelApi.ProxyTracerProvider>;
  const tracer =
    typeof provider.getDelegateTracer === 'function'
      ? provider.getDelegateTracer(name, packageVersion)
      : loaded.trace.getTracer(name, packageVersion);
  // A provider, once registered globally, stays for the life of the process: cache it.
  if (tracer) tracers.set(name, tracer);
  return tracer;
}

/**
 * The meter of the app's registered MeterProvider, or undefined when it has none. Unlike traces,
 * the metrics API has no proxy: the provider must be registered before the part that asks
 * (sessions, balancer, supervisor) is created.
 */
export function activeMeter(name: string): OtelApi.Meter | undefined {
  if (loaded === null) return undefined;
  const provider = loaded.metrics.getMeterProvider();
  if (provider.constructor.name === 'NoopMeterProvider') return undefined;
  return provider.getMeter(name, packageVersion);
}

/**
 * Runs `fn` inside a span when a tracer is active, else runs it bare. The span ends when the
 * promise settles; a rejection marks it as an error with the error's `code` (never its message,
 * which could quote user input).
 */
export async function inSpan<T>(
  tracer: OtelApi.Tracer | undefined,
  name: string,
  attributes: OtelApi.Attributes,
  fn: (span: OtelApi.Span | undefined) => Promise<T>,
): Promise<T> {
  if (tracer === undefined) return fn(undefined);
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      failSpan(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

/** Marks a span failed with the error's stable code, or its class name. */
export function failSpan(span: OtelApi.Span, error: unknown): void {
  const code = (error as { code?: unknown } | null)?.code;
  const type = typeof code === 'string' ? code : ((error as Error | null)?.name ?? 'Error');
  span.setAttribute('error.type', type);
  span.setStatus({ code: 2 /* SpanStatusCode.ERROR */ });
}
