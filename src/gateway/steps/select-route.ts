import { parseRequestTarget } from '../../http/request-target.js';
import type { RouteTable } from '../route-table.js';
import type { Step } from '../step.js';

/** Picks the route (first match by path prefix and host); none: 404 from the gateway. */
export function selectRoute(routes: RouteTable): Step {
  return (exchange) => {
    const { req } = exchange;
    const target = parseRequestTarget(req.url ?? '');
    if (target === null) {
      return {
        status: 400,
        error: 'bad_request',
        detail: 'The request target is neither a path nor an http(s) URL.',
        suggestedAction: 'Send a request target such as /path/file.',
      };
    }
    if (target.authority !== null) {
      req.headers.host = target.authority;
      req.url = target.originForm;
    }
    exchange.path = target.path;
    exchange.route = routes.match(req.headers.host, target.path);
    if (exchange.route === null) {
      return {
        status: 404,
        error: 'no_route',
        detail: `No route of this gateway matches host "${req.headers.host ?? ''}", path "${target.path}".`,
        suggestedAction: 'Check the URL, or add a route for it to the gateway’s configuration.',
        members: { path: target.path },
      };
    }
    return undefined;
  };
}
