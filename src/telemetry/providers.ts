import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Meter, Tracer } from '@opentelemetry/api';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { RuntimeNodeInstrumentation } from '@opentelemetry/instrumentation-runtime-node';
import { detectResources, envDetector, hostDetector, osDetector, resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import type { BasicTracerProvider, SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { OtlpProtocol, TelemetryConfig } from '../config/types.js';
import { packageVersion } from '../package-version.js';
import { processMetrics } from './process-metrics.js';
import { BoundInstruments } from './bound-instruments.js';
import { randomUUID } from 'node:crypto';

export interface TelemetryProviders {
  /** Null when traces are off: the request path then does no tracing work at all. */
  readonly tracer: Tracer | null;
  readonly meter: Meter;
  /** The instruments every exchange records, bound to their series (bound-instruments.ts). */
  readonly bound: BoundInstruments;
  /** Serves Prometheus text; null when `telemetry.metrics.prometheus` is off. */
  readonly metricsHandler: ((req: IncomingMessage, res: ServerResponse) => void) | null;
  /** The same text, as a string ('' when metrics are off): a group's primary gathers its workers'. */
  metricsText(): Promise<string>;
  /** Flushes what is pending; never rejects (a collector that is down is logged, not fatal). */
  shutdown(): Promise<string | null>;
}

const DEFAULT_ENDPOINT = 'http://127.0.0.1:4318';
const DEFAULT_PROTOCOL: OtlpProtocol = 'http/protobuf';

/**
 * The OpenTelemetry SDK's providers for one gateway, configured from
 * `telemetry` and the standard OTEL_* variables (`env` for the service
 * name, endpoint and protocol; the SDK reads the sampler and batch
 * variables from the process's environment itself). They are used directly, not
 * registered as globals, so that several gateways in one process (tests,
 * embedding) keep their telemetry apart.
 */
export async function startProviders(config: TelemetryConfig, env: NodeJS.ProcessEnv = process.env): Promise<TelemetryProviders> {
  // Not processDetector: it records the command line, and flags may carry secrets (--admin.token).
  const detected = detectResources({ detectors: [envDetector, hostDetector, osDetector] });
  const serviceName = config.serviceName !== 'headroom' || !env.OTEL_SERVICE_NAME ? config.serviceName : env.OTEL_SERVICE_NAME;
  // service.instance.id tells this process's telemetry from another replica's (or worker's).
  const resource = detected.merge(
    resourceFromAttributes({
      'service.name': serviceName,
      'service.version': packageVersion(),
      'service.instance.id': randomUUID(),
      'process.pid': process.pid,
      'process.runtime.name': 'nodejs',
      'process.runtime.version': process.versions.node,
    }),
  );

  const exporter = tracesExporterOf(config, env);
  const tracerProvider = exporter === 'none' ? null : await startTracerProvider({ ...config, traces: { ...config.traces, exporter } }, env, resource);

  const bound = new BoundInstruments(resource);
  const prometheus = config.metrics.prometheus ? new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true, metricProducers: [bound] }) : null;
  // As the exporter's own handler serializes (no prefix, no timestamps, without scope info).
  const serializer = new PrometheusSerializer('', false, undefined, false, true);
  const meterProvider = new MeterProvider({ resource, readers: prometheus ? [prometheus] : [] });
  // Node's own figures (event-loop delay and utilisation, heap, GC) from OpenTelemetry's maintained instrumentation.
  const runtime = new RuntimeNodeInstrumentation();
  runtime.setMeterProvider(meterProvider);
  runtime.enable();
  processMetrics(meterProvider.getMeter('headroom'));

  return {
    tracer: tracerProvider?.getTracer('headroom') ?? null,
    meter: meterProvider.getMeter('headroom'),
    bound,
    metricsHandler: prometheus ? (req, res) => prometheus.getMetricsRequestHandler(req, res) : null,
    metricsText: async () => (prometheus ? serializer.serialize((await prometheus.collect()).resourceMetrics) : ''),
    shutdown: async () => {
      runtime.disable();
      const results = await Promise.allSettled([tracerProvider?.shutdown(), meterProvider.shutdown()]);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      return failed ? String((failed.reason as Error)?.message ?? failed.reason) : null;
    },
  };
}

/**
 * The tracing SDK and its exporter are loaded only when traces go
 * somewhere: a gateway with tracing off does not carry them in memory
 * (the OTLP exporters alone are 10+ MiB of RSS).
 */
async function startTracerProvider(config: TelemetryConfig, env: NodeJS.ProcessEnv, resource: Resource): Promise<BasicTracerProvider> {
  const { BasicTracerProvider, BatchSpanProcessor, ConsoleSpanExporter } = await import('@opentelemetry/sdk-trace-base');
  const exporter = config.traces.exporter === 'console' ? new ConsoleSpanExporter() : await otlpExporter(config, env);
  return new BasicTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(exporter)] });
}

async function otlpExporter(config: TelemetryConfig, env: NodeJS.ProcessEnv): Promise<SpanExporter> {
  // An endpoint from OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT wins over the default one.
  const fromEnv = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const options = config.traces.endpoint === DEFAULT_ENDPOINT && fromEnv ? {} : { url: `${config.traces.endpoint.replace(/\/+$/, '')}/v1/traces` };
  if (otlpProtocol(config, env) === 'http/json') {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    return new OTLPTraceExporter(options);
  }
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');
  return new OTLPTraceExporter(options);
}

/**
 * OTLP/HTTP with protobuf unless told JSON: the OpenTelemetry default, and
 * about half the encoding work per span and a third of the bytes of JSON
 * (bench/NOTES.md). OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL wins over the
 * default, as the endpoint's variables do.
 */
function otlpProtocol(config: TelemetryConfig, env: NodeJS.ProcessEnv): OtlpProtocol {
  const fromEnv = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL || env.OTEL_EXPORTER_OTLP_PROTOCOL;
  if (config.traces.protocol !== DEFAULT_PROTOCOL || !fromEnv) return config.traces.protocol;
  if (fromEnv === 'http/protobuf' || fromEnv === 'http/json') return fromEnv;
  throw new Error(`OTEL_EXPORTER_OTLP_PROTOCOL "${fromEnv}" is not supported: Headroom sends spans over OTLP/HTTP; set http/protobuf or http/json`);
}

/**
 * Where spans go: `telemetry.traces.exporter`, or OTEL_TRACES_EXPORTER
 * while the key is left at its default (`none`). Of the variable's values
 * the gateway has `otlp`, `console` and `none`; another (`zipkin`, a list)
 * stops it at start with a message saying so.
 */
function tracesExporterOf(config: TelemetryConfig, env: NodeJS.ProcessEnv): TelemetryConfig['traces']['exporter'] {
  const fromEnv = env.OTEL_TRACES_EXPORTER?.trim();
  if (config.traces.exporter !== 'none' || !fromEnv) return config.traces.exporter;
  if (fromEnv === 'otlp' || fromEnv === 'console' || fromEnv === 'none') return fromEnv;
  throw new Error(`OTEL_TRACES_EXPORTER: "${fromEnv}" is not supported; use otlp, console or none (or telemetry.traces.exporter)`);
}
