import type { Tracer } from '@opentelemetry/api';
import type { RouteConfig } from '../config/types.js';
import type { Origin } from '../gateway/origin.js';
import type { Logger } from '../log.js';
import { startAgentSource } from './agent-source.js';
import { startHealthCheck } from './health-check.js';
import { startLocalSource } from './local-source.js';
import type { HeadroomRegistry } from './registry.js';

/** Starts every configured source of snapshots and health; returns one stop function. */
export function startSources(origins: Iterable<Origin>, routes: readonly RouteConfig[], registry: HeadroomRegistry, logger: Logger, tracer: Tracer | null): () => void {
  const stops: Array<() => void> = [];
  for (const origin of origins) {
    const { local, agent, health } = origin.config.headroom;
    if (local) stops.push(startLocalSource(origin.name, local, registry, logger));
    if (agent) stops.push(startAgentSource(origin.name, configuredVolumes(origin, routes), agent, registry, origin.agentStatus!, logger, tracer));
    if (health) stops.push(startHealthCheck(origin.name, origin.config.url, health, origin.health!, logger, tracer));
  }
  return () => stops.forEach((stop) => stop());
}

/**
 * The volumes the configuration names on an origin: its routes' volumes and
 * its local paths (which cover a route that relies on the origin's only
 * path). Only these are ever taken from a source's report.
 */
function configuredVolumes(origin: Origin, routes: readonly RouteConfig[]): ReadonlySet<string> {
  const named = routes.filter((r) => r.origin === origin.name && r.volume !== null).map((r) => r.volume!);
  return new Set([...named, ...(origin.config.headroom.local?.paths ?? [])]);
}
