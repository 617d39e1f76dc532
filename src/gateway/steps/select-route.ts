import { normaliseHost, readRequestTarget, type EncodedSlashes } from '../../http/request-target.js';
import type { Problem } from '../../http/problem.js';
import type { Destination, Exchange } from '../../exchange/exchange.js';
import type { RouteTable } from '../route-table.js';
import type { Step } from '../../exchange/step.js';

/** Methods whose `Destination` says where they write (RFC 4918 §9.8, §9.9). */
const DESTINED = new Set(['COPY', 'MOVE']);

const badTarget = (detail: string): Problem => ({
  status: 400,
  error: 'bad_request_target',
  detail,
  suggestedAction: 'Send the request to a plain path such as /dir/file.txt, percent-encoding what needs it; it was not forwarded.',
});

/**
 * Reads the request target and picks the route (first match by normalised
 * path prefix and host); none: 404 from the gateway. For COPY and MOVE the
 * Destination is routed the same way.
 */
export function selectRoute(routes: RouteTable, encodedSlashes: EncodedSlashes): Step {
  return (exchange) => {
    const { req } = exchange;
    const read = readRequestTarget(req.url ?? '', encodedSlashes);
    if (!read.ok) return badTarget(read.detail);
    const target = read.target;
    // RFC 9112 §3.2.2: an absolute-form target's authority replaces Host.
    const authority = target.authority ?? req.headers.host ?? '';
    const host = normaliseHost(authority);
    if (host === null) return badTarget(`The request's host "${authority}" is not a host name or address.`);
    exchange.target = target;
    exchange.authority = authority;
    exchange.path = target.path;
    exchange.route = routes.match(host, target.path);
    if (exchange.route === null) {
      return {
        status: 404,
        error: 'no_route',
        detail: `No route of this gateway matches host "${host}", path "${target.path}".`,
        suggestedAction: 'Check the URL, or add a route for it to the gateway’s configuration.',
        members: { path: target.path },
      };
    }
    if (!DESTINED.has(req.method!)) return undefined;
    const destination = routeDestination(exchange, host, routes, encodedSlashes);
    if ('status' in destination) return destination;
    exchange.destination = destination;
    return undefined;
  };
}

/**
 * RFC 4918 §10.3: Destination is an absolute URI or an absolute path. One on
 * another authority, or routed to another origin, is a cross-server COPY or
 * MOVE, which this gateway does not carry out: 502 (RFC 4918 §9.8.5).
 */
function routeDestination(exchange: Exchange, host: string, routes: RouteTable, encodedSlashes: EncodedSlashes): Destination | Problem {
  const raw = exchange.req.headers.destination; // at most one: checked at the door
  if (typeof raw !== 'string' || raw === '') return badTarget(`${exchange.req.method} needs a Destination header naming where to put the result.`);
  const read = readRequestTarget(raw, encodedSlashes);
  if (!read.ok) return badTarget(`The Destination header is not usable: ${read.detail}`);
  const { authority, path } = read.target;
  const route = authority === null || normaliseHost(authority) === host ? routes.match(host, path) : null;
  if (route === null || route.origin !== exchange.route!.origin) {
    return {
      status: 502,
      error: 'cross_origin_destination',
      detail: `The Destination ${JSON.stringify(raw)} is not on the origin this request goes to ("${exchange.route!.origin.name}"); copying or moving between servers is not carried out.`,
      suggestedAction: 'Download the resource and upload it to the other server.',
      members: { origin: exchange.route!.origin.name },
    };
  }
  return { route, path, raw };
}
