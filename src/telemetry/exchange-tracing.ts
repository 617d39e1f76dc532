import type { IncomingMessage } from 'node:http';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Tracer, type TextMapGetter, type TextMapSetter } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { Exchange } from '../exchange/exchange.js';
import type { HeaderSink } from '../http/header-sink.js';

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
    const [host, port] = (req.headers.host ?? '').split(':');
    exchange.span = this.tracer.startSpan(
      req.method ?? 'HTTP',
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': req.method,
          'url.path': (req.url ?? '').split('?')[0],
          'url.scheme': 'http',
          'server.address': host,
          'server.port': port ? Number(port) : undefined,
          'client.address': req.socket.remoteAddress,
          'network.protocol.version': req.httpVersion,
          'user_agent.original': req.headers['user-agent'],
          'http.request.header.x-request-id': [exchange.requestId],
          'headroom.generation': exchange.generation.number,
        },
      },
      parent,
    );
  }

  /** Starts the CLIENT span and writes its context into the headers going to the origin. */
  forward(exchange: Exchange, head: HeaderSink): void {
    if (!exchange.span) return;
    const origin = exchange.route!.origin;
    const client = this.tracer.startSpan(
      exchange.req.method ?? 'HTTP',
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'http.request.method': exchange.req.method,
          'server.address': origin.target.hostname ?? undefined,
          'server.port': Number(origin.target.port),
          'url.full': `${origin.config.url}${exchange.req.url ?? ''}`,
          'headroom.origin': origin.name,
        },
      },
      trace.setSpan(ROOT_CONTEXT, exchange.span),
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
    const admission = exchange.admission;
    const refused = admission?.decision === 'reject' || exchange.loop;
    if (refused || status >= 500 || exchange.upstreamFailure) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: admission?.reason ?? exchange.upstreamFailure ?? String(status) });
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
