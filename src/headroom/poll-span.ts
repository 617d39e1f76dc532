import { SpanKind, SpanStatusCode, type Attributes, type Tracer } from '@opentelemetry/api';

/** How one poll went: its error (null when it went well) and the HTTP status it got, if any. */
export interface PollOutcome {
  readonly error: string | null;
  readonly status: number | null;
}

/**
 * Spans for one source's polls (agent or health check), so that a trace
 * shows why a volume went unknown or an origin down — but not one trace per
 * poll forever: a poll is traced when it is the first, when it fails, and
 * when it is the first good one after a failure. The span is an HTTP client
 * span (GET, `url.full`, the status), started when the poll was.
 */
export function pollSpans(tracer: Tracer | null, name: string, attributes: Attributes): (poll: () => Promise<PollOutcome>) => Promise<void> {
  let last: 'none' | 'ok' | 'failed' = 'none';
  return async (poll) => {
    const startTime = performance.timeOrigin + performance.now();
    const { error, status } = await poll();
    const was = last;
    last = error === null ? 'ok' : 'failed';
    if (!tracer || (error === null && was === 'ok')) return;
    const span = tracer.startSpan(name, { kind: SpanKind.CLIENT, startTime, attributes: { 'http.request.method': 'GET', ...attributes } });
    if (status !== null) span.setAttribute('http.response.status_code', status);
    if (error !== null) {
      span.setAttribute('error.type', error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: error });
    }
    span.end();
  };
}
