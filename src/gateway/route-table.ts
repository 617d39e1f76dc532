import type { RouteConfig } from '../config/types.js';
import type { Origin } from './origin.js';

export interface Route {
  readonly pathPrefix: string;
  /** Lower-case host without port, or null for any host. */
  readonly host: string | null;
  readonly origin: Origin;
  /**
   * The volume this route's writes are judged against, fixed by the
   * configuration: the route's own `volume`, else the origin's only local
   * path. Null only for an origin with no source of figures. What a source
   * reports never changes it.
   */
  readonly volume: string | null;
}

/** Routes in configuration order; the first that matches wins. */
export class RouteTable {
  readonly #routes: readonly Route[];

  constructor(routes: readonly RouteConfig[], origins: ReadonlyMap<string, Origin>) {
    this.#routes = routes.map((r) => {
      const origin = origins.get(r.origin);
      if (!origin) throw new Error(`route names unknown origin "${r.origin}"; the config loader should have refused it`);
      return { pathPrefix: r.match.pathPrefix, host: r.match.host?.toLowerCase() ?? null, origin, volume: r.volume ?? soleLocalPath(origin) };
    });
  }

  /** `hostHeader` as received (it may carry a port). */
  match(hostHeader: string | undefined, path: string): Route | null {
    const host = hostHeader === undefined ? '' : hostOnly(hostHeader);
    for (const route of this.#routes) {
      if (path.startsWith(route.pathPrefix) && (route.host === null || route.host === host)) return route;
    }
    return null;
  }
}

function hostOnly(hostHeader: string): string {
  const lower = hostHeader.toLowerCase();
  if (lower.startsWith('[')) return lower.slice(0, lower.indexOf(']') + 1);
  const colon = lower.lastIndexOf(':');
  return colon === -1 ? lower : lower.slice(0, colon);
}

function soleLocalPath(origin: Origin): string | null {
  const paths = origin.config.headroom.local?.paths;
  return paths?.length === 1 ? paths[0]! : null;
}
