import type { IncomingMessage } from 'node:http';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Tracer, type TextMapGetter, type TextMapSetter } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { Exchange } from '../exchange/exchange.js';
import type { HeaderSink } from '../http/header-sink.js';
import { unbracketed } from '../http/host.js';

const propagator = new W3CTraceContextPropagator();
const getter: TextMapGetter<IncomingMessage['headers']> = {
  keys: (headers) => Object.keys(headers),
  get: (headers, key) => headers[key],
};
const setter: TextMapSetter<HeaderSink> = {
  set: (head, key, value) => head.set(key, value),
};

/**
 * Turns an exchange's facts into spans (HTTP semantic conventions): one
 * SERVER span per request continuing an incoming `traceparent`, one CLIENT
 * span per upstream exchange whose context goes to the origin, and the
 * admission decision as `headroom.*` attributes. The request's steps know
 * nothing of it.
 */
export class ExchangeTracing {
  constructor(private readonly tracer: Tracer) {}

  start(exchange: Exchange): void {
    const { req } = exchange;
    // Most requests arrive without trace context: nothing to extract.
    const parent = req.headers.traceparent === undefined ? ROOT_CONTEXT : propagator.extract(ROOT_CONTEXT, req.headers, getter);
    // The standard samplers decide on the trace id and the parent alone: an
    // unsampled request builds no attributes (docs/telemetry.md, sampling).
    const span = this.tracer.startSpan(req.method ?? 'HTTP', { kind: SpanKind.SERVER }, parent);
    exchange.span = span;
    if (!span.isRecording()) return;
    const { host, port } = hostAndPort(req.headers.host ?? '');
    const target = req.url ?? '';
    const query = target.indexOf('?');
    span.setAttributes({
      'http.request.method': req.method,
      'url.path': query < 0 ? target : target.slice(0, query),
      'url.query': query < 0 ? undefined : target.slice(query + 1),
      'url.scheme': 'http',
      'server.address': host || undefined,
      'server.port': port,
      'client.address': req.socket.remoteAddress,
      'network.protocol.version': req.httpVersion,
      'user_agent.original': req.headers['user-agent'],
      'http.request.header.x-request-id': [exchange.requestId],
      'headroom.generation': exchange.generation.number,
    });
  }

  /** Starts the CLIENT span and writes its context into the headers going to the origin. */
  forward(exchange: Exchange, head: HeaderSink): void {
    const server = exchange.span;
    if (!server) return;
    // Unsampled, a CLIENT span would be as unrecorded as its parent: the
    // origin is handed the SERVER span's context, with the same trace id and flags.
    if (!server.isRecording()) return propagator.inject(trace.setSpan(ROOT_CONTEXT, server), head, setter);
    const origin = exchange.route!.origin;
    const client = this.tracer.startSpan(
      exchange.req.method ?? 'HTTP',
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'http.request.method': exchange.req.method,
          'server.address': origin.target.hostname ?? undefined,
          'server.port': Number(origin.target.port),
          // What the origin is asked for: the origin-form target under the origin's URL (never an absolute-form target as sent).
          'url.full': `${origin.config.url}${exchange.target!.originForm}`,
          'headroom.origin': origin.name,
        },
      },
      trace.setSpan(ROOT_CONTEXT, server),
    );
    exchange.clientSpan = client;
    propagator.inject(trace.setSpan(ROOT_CONTEXT, client), head, setter);
  }

  originAnswered(exchange: Exchange, status: number): void {
    const client = exchange.clientSpan;
    if (!client) return;
    client.setAttribute('http.response.status_code', status);
    if (status >= 500) client.setStatus({ code: SpanStatusCode.ERROR });
    client.end();
    exchange.clientSpan = null;
  }

  upstreamFailed(exchange: Exchange, reason: string): void {
    const client = exchange.clientSpan;
    if (!client) return;
    client.setAttribute('error.type', reason);
    client.setStatus({ code: SpanStatusCode.ERROR, message: reason });
    client.end();
    exchange.clientSpan = null;
  }

  end(exchange: Exchange): void {
    const span = exchange.span;
    if (!span) return;
    if (!span.isRecording()) return span.end();
    const { res } = exchange;
    const status = res.writableFinished ? res.statusCode : 499;
    span.setAttribute('http.response.status_code', status);
    if (exchange.route) {
      span.updateName(`${exchange.req.method} ${exchange.route.pathPrefix}`);
      span.setAttribute('http.route', exchange.route.pathPrefix);
      span.setAttribute('headroom.origin', exchange.route.origin.name);
    }
    const attributes = decisionAttributes(exchange);
    if (attributes) span.setAttributes(attributes);
    // A SERVER span is an error only for a 5xx (OpenTelemetry's HTTP conventions): a 4xx is the client's.
    if (status >= 500) {
      const type = exchange.loop ? 'loop' : exchange.upstreamFailure ?? exchange.refusal?.error ?? (exchange.admission?.decision === 'reject' ? exchange.admission.reason : String(status));
      span.setAttribute('error.type', type);
      span.setStatus({ code: SpanStatusCode.ERROR, message: type });
    }
    if (exchange.clientSpan) this.upstreamFailed(exchange, 'client_gone');
    span.end();
  }
}

/** The `headroom.*` span attributes (docs/telemetry.md) for the exchange's decision. */
export function decisionAttributes(exchange: Exchange): Attributes | null {
  if (exchange.loop) return { 'headroom.decision': 'reject', 'headroom.reason': 'loop' };
  const admission = exchange.admission;
  if (!admission) return null;
  const attributes: Attributes = { 'headroom.decision': admission.decision, 'headroom.reason': admission.reason };
  if (admission.constraint !== null) attributes['headroom.constraint'] = admission.constraint;
  const d = exchange.decision;
  if (!d) return attributes;
  const f = d.figures;
  attributes['headroom.volume'] = exchange.volume ?? undefined;
  attributes['headroom.requested_bytes'] = f.requestedBytes ?? undefined;
  attributes['headroom.usable_bytes'] = f.usableBytes ?? undefined;
  attributes['headroom.reserved_bytes'] = f.reservedBytes;
  attributes['headroom.snapshot_age_ms'] = f.snapshotAgeMs ?? undefined;
  return attributes;
}

/** A Host header's name (an IPv6 address without its brackets) and port. */
function hostAndPort(host: string): { host: string; port: number | undefined } {
  const m = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(host);
  if (!m) return { host: '', port: undefined };
  return { host: unbracketed(m[1]!), port: m[2] === undefined ? undefined : Number(m[2]) };
}
