import type { Tracer } from '@opentelemetry/api';
import type { RouteConfig } from '../config/types.js';
import type { Origin } from '../exchange/origin.js';
import type { Logger } from '../log/log.js';
import { startAgentSource } from '../headroom/agent-source.js';
import { startHealthCheck } from '../headroom/health-check.js';
import { startLocalSource } from '../headroom/local-source.js';
import type { HeadroomRegistry } from '../headroom/registry.js';

interface Running {
  /** What the source was started from; a source is restarted only when this changes. */
  readonly settings: string;
  /** The origin it was started for: its health and agent-status objects are the source's output. */
  readonly origin: Origin;
  readonly stop: () => void;
}

/**
 * The sources of snapshots and health for the current configuration. On a
 * reload `update` keeps every source whose settings are unchanged (its
 * polls go on at their pace) and restarts or stops the others.
 */
export class SourceSet {
  readonly #running = new Map<string, Running>();

  constructor(
    private readonly registry: HeadroomRegistry,
    private readonly logger: Logger,
    private readonly tracer: Tracer | null,
  ) {}

  update(origins: Iterable<Origin>, routes: readonly RouteConfig[]): void {
    const wanted = new Map<string, { settings: string; origin: Origin; start: () => () => void }>();
    for (const origin of origins) {
      const { local, agent, health } = origin.config.headroom;
      const name = origin.name;
      if (local) wanted.set(`${name} local`, { settings: JSON.stringify(local), origin, start: () => startLocalSource(name, local, this.registry, this.logger) });
      if (agent) {
        const volumes = configuredVolumes(origin, routes);
        wanted.set(`${name} agent`, {
          settings: JSON.stringify([agent, [...volumes]]),
          origin,
          start: () => startAgentSource(name, volumes, agent, this.registry, origin.agentStatus!, this.logger, this.tracer),
        });
      }
      if (health) {
        wanted.set(`${name} health`, {
          settings: JSON.stringify([origin.config.url, health]),
          origin,
          start: () => startHealthCheck(name, origin.config.url, health, origin.health!, this.logger, this.tracer),
        });
      }
    }
    for (const [key, running] of this.#running) {
      const next = wanted.get(key);
      if (next && next.settings === running.settings && sameOutputs(next.origin, running.origin)) continue;
      running.stop();
      this.#running.delete(key);
    }
    for (const [key, next] of wanted) {
      if (!this.#running.has(key)) this.#running.set(key, { settings: next.settings, origin: next.origin, stop: next.start() });
    }
  }

  stop(): void {
    for (const running of this.#running.values()) running.stop();
    this.#running.clear();
  }
}

/** A reloaded origin that kept its health and agent-status objects: its running sources still report to it. */
function sameOutputs(a: Origin, b: Origin): boolean {
  return a.health === b.health && a.agentStatus === b.agentStatus;
}

/**
 * The volumes the configuration names on an origin: its routes' volumes and
 * its local paths (which cover a route that relies on the origin's only
 * path). Only these are ever taken from a source's report.
 */
export function configuredVolumes(origin: Origin, routes: readonly RouteConfig[]): ReadonlySet<string> {
  const named = routes.filter((r) => r.origin === origin.name).flatMap((r) => r.volumes?.map((v) => v.volume) ?? (r.volume === null ? [] : [r.volume]));
  return new Set([...named, ...(origin.config.headroom.local?.paths ?? [])]);
}
