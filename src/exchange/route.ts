import type { Origin } from './origin.js';

export interface Route {
  readonly pathPrefix: string;
  /** Normalised host (see normaliseHost), or null for any host. */
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
