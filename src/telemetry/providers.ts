import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Meter, Tracer } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor, ConsoleSpanExporter, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { OtlpProtocol, TelemetryConfig } from '../config/types.js';

export interface TelemetryProviders {
  /** Null when traces are off: the request path then does no tracing work at all. */
  readonly tracer: Tracer | null;
  readonly meter: Meter;
  /** Serves Prometheus text; null when `telemetry.metrics.prometheus` is off. */
  readonly metricsHandler: ((req: IncomingMessage, res: ServerResponse) => void) | null;
  /** Flushes what is pending; never rejects (a collector that is down is logged, not fatal). */
  shutdown(): Promise<string | null>;
}

const DEFAULT_ENDPOINT = 'http://127.0.0.1:4318';
const DEFAULT_PROTOCOL: OtlpProtocol = 'http/protobuf';

/**
 * The OpenTelemetry SDK's providers for one gateway, configured from
 * `telemetry` and the standard OTEL_* variables. They are used directly, not
 * registered as globals, so that several gateways in one process (tests,
 * embedding) keep their telemetry apart.
 */
export async function startProviders(config: TelemetryConfig, env: NodeJS.ProcessEnv = process.env): Promise<TelemetryProviders> {
  const detected = detectResources({ detectors: [envDetector] });
  const serviceName = config.serviceName !== 'headroom' || !env.OTEL_SERVICE_NAME ? config.serviceName : env.OTEL_SERVICE_NAME;
  const resource = detected.merge(resourceFromAttributes({ 'service.name': serviceName }));

  const exporter = await spanExporter(config, env);
  const tracerProvider = exporter ? new BasicTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(exporter)] }) : null;

  const prometheus = config.metrics.prometheus ? new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true }) : null;
  const meterProvider = new MeterProvider({ resource, readers: prometheus ? [prometheus] : [] });

  return {
    tracer: tracerProvider?.getTracer('headroom') ?? null,
    meter: meterProvider.getMeter('headroom'),
    metricsHandler: prometheus ? (req, res) => prometheus.getMetricsRequestHandler(req, res) : null,
    shutdown: async () => {
      const results = await Promise.allSettled([tracerProvider?.shutdown(), meterProvider.shutdown()]);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      return failed ? String((failed.reason as Error)?.message ?? failed.reason) : null;
    },
  };
}

/** The OTLP exporter is loaded only when used: 10+ MiB of RSS otherwise. */
async function spanExporter(config: TelemetryConfig, env: NodeJS.ProcessEnv): Promise<SpanExporter | null> {
  switch (config.traces.exporter) {
    case 'none':
      return null;
    case 'console':
      return new ConsoleSpanExporter();
    case 'otlp': {
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
  }
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
