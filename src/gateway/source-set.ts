import type { Tracer } from '@opentelemetry/api';
import type { RouteConfig } from '../config/types.js';
import type { Origin } from '../exchange/origin.js';
import type { Logger } from '../log/log.js';
import { startAgentSource } from '../headroom/agent-source.js';
import { startHealthCheck } from '../headroom/health-check.js';
import { startLocalSource } from '../headroom/local-source.js';
import { startNodeExporterSource } from '../headroom/node-exporter-source.js';
import { startPrometheusSource, type PrometheusServer, type PrometheusVolume } from '../headroom/prometheus-source.js';
import type { HeadroomRegistry } from '../headroom/registry.js';

interface Running {
  /** What the source was started from; a source is restarted only when this changes. */
  readonly settings: string;
  /** The origins it was started for: their health and agent-status objects are the source's output. */
  readonly origins: readonly Origin[];
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
    const wanted = new Map<string, { settings: string; origins: readonly Origin[]; start: () => () => void }>();
    /** Prometheus volumes by server: one source (one query per interval) for all origins that name the same one. */
    const servers = new Map<string, { server: PrometheusServer; volumes: PrometheusVolume[]; origins: Origin[] }>();
    for (const [i, origin] of [...origins].entries()) {
      const { local, agent, health, nodeExporter, prometheus } = origin.config.headroom;
      const name = origin.name;
      if (local) wanted.set(`${name} local`, { settings: JSON.stringify(local), origins: [origin], start: () => startLocalSource(name, local, this.registry, this.logger) });
      if (agent) {
        const volumes = configuredVolumes(origin, routes);
        wanted.set(`${name} agent`, {
          settings: JSON.stringify([agent, [...volumes]]),
          origins: [origin],
          start: () => startAgentSource(name, volumes, agent, this.registry, origin.agentStatus!, this.logger, this.tracer),
        });
      }
      if (nodeExporter) {
        const volumes = configuredVolumes(origin, routes);
        wanted.set(`${name} nodeExporter`, {
          settings: JSON.stringify([nodeExporter, [...volumes]]),
          origins: [origin],
          start: () => startNodeExporterSource(name, volumes, nodeExporter, this.registry, origin.agentStatus!, this.logger, this.tracer),
        });
      }
      if (prometheus) {
        const { volumes, ...server } = prometheus;
        const key = JSON.stringify(server);
        const group = servers.get(key) ?? { server, volumes: [], origins: [] };
        servers.set(key, group);
        group.origins.push(origin);
        volumes.forEach((config, j) => group.volumes.push({ origin: name, at: `origins[${i}].headroom.prometheus.volumes[${j}]`, config }));
      }
      if (health) {
        wanted.set(`${name} health`, {
          settings: JSON.stringify([origin.config.url, health]),
          origins: [origin],
          start: () => startHealthCheck(name, origin.config.url, health, origin.health!, this.logger, this.tracer),
        });
      }
    }
    for (const [key, { server, volumes, origins: served }] of servers) {
      wanted.set(`prometheus ${key}`, {
        settings: JSON.stringify(volumes),
        origins: served,
        start: () => startPrometheusSource(server, volumes, this.registry, served.map((o) => o.agentStatus!), this.logger, this.tracer),
      });
    }
    for (const [key, running] of this.#running) {
      const next = wanted.get(key);
      if (next && next.settings === running.settings && sameOutputs(next.origins, running.origins)) continue;
      running.stop();
      this.#running.delete(key);
    }
    for (const [key, next] of wanted) {
      if (!this.#running.has(key)) this.#running.set(key, { settings: next.settings, origins: next.origins, stop: next.start() });
    }
  }

  stop(): void {
    for (const running of this.#running.values()) running.stop();
    this.#running.clear();
  }
}

/** Reloaded origins that kept their health and agent-status objects: their running sources still report to them. */
function sameOutputs(a: readonly Origin[], b: readonly Origin[]): boolean {
  return a.length === b.length && a.every((o, i) => o.health === b[i]!.health && o.agentStatus === b[i]!.agentStatus);
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
