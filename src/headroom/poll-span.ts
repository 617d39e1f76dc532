import { SpanKind, SpanStatusCode, type Attributes, type Tracer } from '@opentelemetry/api';

/**
 * Runs one poll (agent or health check) inside a span, so that a trace
 * shows why a volume went unknown or an origin down. `poll` resolves with
 * an error message, or null when it went well.
 */
export async function tracedPoll(tracer: Tracer | null, name: string, attributes: Attributes, poll: () => Promise<string | null>): Promise<void> {
  if (!tracer) {
    await poll();
    return;
  }
  const span = tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes });
  const error = await poll();
  if (error !== null) {
    span.setAttribute('error.type', error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: error });
  }
  span.end();
}
