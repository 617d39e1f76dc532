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
  /**
   * Every volume its writes need, the target first, each with the share of
   * the body a write puts there: one for the target alone; none where
   * `volume` is null.
   */
  readonly volumes: readonly RouteVolume[];
}

export interface RouteVolume {
  readonly volume: string;
  /** Of the body's size, what a write needs on this volume (1: the whole body). */
  readonly share: number;
}
