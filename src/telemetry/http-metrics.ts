import type { Attributes } from '@opentelemetry/api';
import type { BoundHistogram, BoundInstruments, HistogramSeries } from './bound-instruments.js';
import type { Exchange } from '../exchange/exchange.js';

/** Methods recorded as themselves; any other is `_OTHER`, as OpenTelemetry's HTTP conventions bound the cardinality. */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', 'PROPFIND', 'PROPPATCH', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'UNLOCK']);

/** The conventions' advice for HTTP durations, in seconds. */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/**
 * OpenTelemetry's HTTP metrics (semantic conventions): every exchange's
 * `http.server.request.duration` and, for those forwarded, the origin's
 * `http.client.request.duration` (to the start of its response). A series
 * is bound once per distinct combination, not looked up per request.
 */
export class HttpMetrics {
  readonly #server: BoundHistogram;
  readonly #client: BoundHistogram;
  /** Series by route (or origin) name, then status, then method: no key is built per request. */
  readonly #serverSets: Sets = new Map();
  readonly #clientSets: Sets = new Map();

  constructor(bound: BoundInstruments) {
    this.#server = bound.histogram('http.server.request.duration', { description: 'Duration of HTTP server requests', unit: 's', boundaries: BUCKETS });
    this.#client = bound.histogram('http.client.request.duration', { description: 'Duration of HTTP client requests (to the origin, until its response starts)', unit: 's', boundaries: BUCKETS });
  }

  /** When the exchange ends; `status` as sent (499 when the client left). */
  served(exchange: Exchange, status: number): void {
    const method = methodOf(exchange.req.method);
    const route = exchange.route?.pathPrefix ?? '';
    const series =
      setOf(this.#serverSets, route, status, method) ??
      keep(this.#serverSets, route, status, method, this.#server, {
        'http.request.method': method,
        'http.response.status_code': status,
        ...(route ? { 'http.route': route } : {}),
        ...(status >= 500 ? { 'error.type': String(status) } : {}),
      });
    series.record((performance.now() - exchange.startedAt) / 1000);
  }

  /** When the origin's response starts. */
  answered(exchange: Exchange, status: number): void {
    const method = methodOf(exchange.req.method);
    const origin = exchange.route!.origin;
    const series =
      setOf(this.#clientSets, origin.name, status, method) ??
      keep(this.#clientSets, origin.name, status, method, this.#client, {
        'http.request.method': method,
        'http.response.status_code': status,
        'server.address': origin.target.hostname ?? '',
        'server.port': Number(origin.target.port),
        'headroom.origin': origin.name,
      });
    series.record(exchange.upstreamMs! / 1000);
  }
}

type Sets = Map<string, Map<number, Map<string, HistogramSeries>>>;

function setOf(sets: Sets, name: string, status: number, method: string): HistogramSeries | undefined {
  return sets.get(name)?.get(status)?.get(method);
}

function keep(sets: Sets, name: string, status: number, method: string, histogram: BoundHistogram, attributes: Attributes): HistogramSeries {
  const series = histogram.series(attributes);
  let byStatus = sets.get(name);
  if (!byStatus) sets.set(name, (byStatus = new Map()));
  let byMethod = byStatus.get(status);
  if (!byMethod) byStatus.set(status, (byMethod = new Map()));
  byMethod.set(method, series);
  return series;
}

function methodOf(method: string | undefined): string {
  return method !== undefined && KNOWN_METHODS.has(method) ? method : '_OTHER';
}
