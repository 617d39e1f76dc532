import type { Attributes, Histogram, Meter } from '@opentelemetry/api';
import type { Exchange } from '../exchange/exchange.js';

/** Methods recorded as themselves; any other is `_OTHER`, as OpenTelemetry's HTTP conventions bound the cardinality. */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', 'PROPFIND', 'PROPPATCH', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'UNLOCK']);

/** The conventions' advice for HTTP durations, in seconds. */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/**
 * OpenTelemetry's HTTP metrics (semantic conventions): every exchange's
 * `http.server.request.duration` and, for those forwarded, the origin's
 * `http.client.request.duration` (to the start of its response). Attribute
 * sets are made once per distinct combination, not per request.
 */
export class HttpMetrics {
  readonly #server: Histogram;
  readonly #client: Histogram;
  /** Attribute sets by route (or origin) name, then status, then method: no key is built per request. */
  readonly #serverSets: Sets = new Map();
  readonly #clientSets: Sets = new Map();

  constructor(meter: Meter) {
    this.#server = meter.createHistogram('http.server.request.duration', { description: 'Duration of HTTP server requests', unit: 's', advice: { explicitBucketBoundaries: BUCKETS } });
    this.#client = meter.createHistogram('http.client.request.duration', { description: 'Duration of HTTP client requests (to the origin, until its response starts)', unit: 's', advice: { explicitBucketBoundaries: BUCKETS } });
  }

  /** When the exchange ends; `status` as sent (499 when the client left). */
  served(exchange: Exchange, status: number): void {
    const method = methodOf(exchange.req.method);
    const route = exchange.route?.pathPrefix ?? '';
    const attributes =
      setOf(this.#serverSets, route, status, method) ??
      keep(this.#serverSets, route, status, method, {
        'http.request.method': method,
        'http.response.status_code': status,
        ...(route ? { 'http.route': route } : {}),
        ...(status >= 500 ? { 'error.type': String(status) } : {}),
      });
    this.#server.record((performance.now() - exchange.startedAt) / 1000, attributes);
  }

  /** When the origin's response starts. */
  answered(exchange: Exchange, status: number): void {
    const method = methodOf(exchange.req.method);
    const origin = exchange.route!.origin;
    const attributes =
      setOf(this.#clientSets, origin.name, status, method) ??
      keep(this.#clientSets, origin.name, status, method, {
        'http.request.method': method,
        'http.response.status_code': status,
        'server.address': origin.target.hostname ?? '',
        'server.port': Number(origin.target.port),
        'headroom.origin': origin.name,
      });
    this.#client.record(exchange.upstreamMs! / 1000, attributes);
  }
}

type Sets = Map<string, Map<number, Map<string, Attributes>>>;

function setOf(sets: Sets, name: string, status: number, method: string): Attributes | undefined {
  return sets.get(name)?.get(status)?.get(method);
}

function keep(sets: Sets, name: string, status: number, method: string, attributes: Attributes): Attributes {
  let byStatus = sets.get(name);
  if (!byStatus) sets.set(name, (byStatus = new Map()));
  let byMethod = byStatus.get(status);
  if (!byMethod) byStatus.set(status, (byMethod = new Map()));
  byMethod.set(method, attributes);
  return attributes;
}

function methodOf(method: string | undefined): string {
  return method !== undefined && KNOWN_METHODS.has(method) ? method : '_OTHER';
}
