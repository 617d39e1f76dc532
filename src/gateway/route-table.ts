import type { RouteConfig } from '../config/types.js';
import { normaliseHost } from '../http/request-target.js';
import type { Origin } from '../exchange/origin.js';
import type { Route } from '../exchange/route.js';

/** Routes in configuration order; the first that matches wins. */
export class RouteTable {
  readonly #routes: readonly Route[];

  constructor(routes: readonly RouteConfig[], origins: ReadonlyMap<string, Origin>) {
    this.#routes = routes.map((r) => {
      const origin = origins.get(r.origin);
      if (!origin) throw new Error(`route names unknown origin "${r.origin}"; the config loader should have refused it`);
      const host = r.match.host === null ? null : normaliseHost(r.match.host);
      const volume = r.volume ?? soleLocalPath(origin);
      return { pathPrefix: r.match.pathPrefix, host, origin, volume, volumes: r.volumes ?? (volume === null ? [] : [{ volume, share: 1 }]) };
    });
  }

  /** Both normalised: the host by normaliseHost, the path by normalisePath. */
  match(host: string, path: string): Route | null {
    for (const route of this.#routes) {
      if (path.startsWith(route.pathPrefix) && (route.host === null || route.host === host)) return route;
    }
    return null;
  }
}

function soleLocalPath(origin: Origin): string | null {
  const paths = origin.config.headroom.local?.paths;
  return paths?.length === 1 ? paths[0]! : null;
}
