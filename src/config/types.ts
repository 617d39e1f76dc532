import type { Amount } from './formats.js';
import type { agentSourceSchema, gatewaySchema, healthSchema, localSourceSchema, nodeExporterSourceSchema, originSchema, pluginSchema, prometheusSourceSchema, prometheusVolumeSchema, routeSchema } from './schema.js';
import type { ConfigOf } from './shape.js';

export type { Amount };

// The validated configuration, derived from the schema convict validates
// against (schema.ts), so that the two cannot drift. Sizes are bytes,
// durations milliseconds, shares fractions of 1.

type Gateway = ConfigOf<typeof gatewaySchema>;

export type ListenConfig = Gateway['listen'];
export type AdminConfig = Gateway['admin'];
export type ViaConfig = Gateway['via'];
export type HeadersConfig = Gateway['headers'];
export type PolicyConfig = Gateway['policy'];
export type LedgerConfig = Gateway['ledger'];
export type TelemetryConfig = Gateway['telemetry'];
export type OtlpProtocol = TelemetryConfig['traces']['protocol'];

export type AgentSourceConfig = ConfigOf<typeof agentSourceSchema>;
export type LocalSourceConfig = ConfigOf<typeof localSourceSchema>;
export type NodeExporterSourceConfig = ConfigOf<typeof nodeExporterSourceSchema>;
export type PrometheusVolumeConfig = ConfigOf<typeof prometheusVolumeSchema>;
export type PrometheusSourceConfig = Omit<ConfigOf<typeof prometheusSourceSchema>, 'volumes'> & { readonly volumes: readonly PrometheusVolumeConfig[] };
export type HealthConfig = ConfigOf<typeof healthSchema>;
/** One of the volumes a route's writes need, and how much of the body each write puts there. */
export interface RouteVolumeConfig {
  readonly volume: string;
  /** The share of the body's size a write needs on it (1: the whole body). */
  readonly share: number;
}

/**
 * A route. `volume` is the target: the route's own, or the first of its
 * `volumes`; `volumes` lists every volume its writes need, null when it
 * names only the target (or none).
 */
export type RouteConfig = Omit<ConfigOf<typeof routeSchema>, 'volumes'> & { readonly volumes: readonly RouteVolumeConfig[] | null };

/** An origin, with its optional sources validated by their own schemas. */
export type OriginConfig = Omit<ConfigOf<typeof originSchema>, 'headroom'> & {
  readonly headroom: {
    readonly agent: AgentSourceConfig | null;
    readonly local: LocalSourceConfig | null;
    readonly health: HealthConfig | null;
    readonly nodeExporter: NodeExporterSourceConfig | null;
    readonly prometheus: PrometheusSourceConfig | null;
  };
};

/** The sources that measure an origin's volumes from elsewhere, each naming volumes as routes do (not as paths). */
export const REMOTE_SOURCES = ['agent', 'nodeExporter', 'prometheus'] as const;
export type RemoteSourceKind = (typeof REMOTE_SOURCES)[number];

/** The origin's remote source, if it has one (the rules across keys allow one at most). */
export function remoteSourceOf(headroom: OriginConfig['headroom']): RemoteSourceKind | null {
  return REMOTE_SOURCES.find((kind) => headroom[kind] !== null) ?? null;
}

/** A plugin's entry; `configDir` is where its `module` and relative paths in its options are resolved from. */
export type PluginConfig = ConfigOf<typeof pluginSchema> & { readonly configDir: string };

/** Lists of objects are validated element by element (load.ts); the rest is the schema's. */
export type GatewayConfig = Omit<Gateway, 'origins' | 'routes' | 'plugins'> & {
  readonly origins: readonly OriginConfig[];
  readonly routes: readonly RouteConfig[];
  readonly plugins: readonly PluginConfig[];
};
