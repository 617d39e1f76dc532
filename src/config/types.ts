import type { Amount } from './formats.js';
import type { LogLevel } from '../log.js';

export type { Amount };

/** Sizes are bytes, durations milliseconds, shares fractions of 1. */
export interface ListenConfig {
  readonly host: string;
  readonly port: number;
  readonly maxHeaderSize: number;
  readonly drainTimeout: number;
  readonly lingerTime: number;
  readonly lingerBytes: number;
  readonly maxHeaders: number;
  readonly encodedSlashes: 'reject' | 'keep';
  readonly headersTimeout: number;
  readonly bodyIdleTimeout: number;
  /** Bytes per second, averaged over each bodyIdleTimeout; 0: none. */
  readonly minBodyRate: number;
  readonly keepAliveTimeout: number;
  /** `auto`: derived from the process's open-file limit at start; 0: no cap. */
  readonly maxConnections: number | 'auto';
}

export interface AdminConfig {
  readonly host: string;
  readonly port: number;
  readonly token: string;
}

export interface ViaConfig {
  readonly pseudonym: string;
  readonly enabled: boolean;
}

export interface HeadersConfig {
  readonly server: string;
  readonly xForwarded: boolean;
  readonly forwarded: boolean;
}

export interface AgentSourceConfig {
  readonly url: string;
  readonly token: string;
  readonly interval: number;
  readonly timeout: number;
  /** An answer whose `time` is further than this from the gateway's clock is refused whole. */
  readonly maxClockSkew: number;
}

export interface LocalSourceConfig {
  readonly paths: readonly string[];
  readonly interval: number;
  /** 0 = the volume's own figures; otherwise a fixed allocation for each path. */
  readonly capacity: number;
}

export interface HealthConfig {
  readonly path: string;
  readonly interval: number;
  readonly timeout: number;
  readonly rise: number;
  readonly fall: number;
}

export interface OriginConfig {
  readonly name: string;
  readonly url: string;
  readonly connectTimeout: number;
  readonly timeout: number;
  readonly maxSockets: number;
  readonly headroom: {
    readonly agent: AgentSourceConfig | null;
    readonly local: LocalSourceConfig | null;
    readonly health: HealthConfig | null;
  };
}

export interface RouteConfig {
  readonly match: { readonly pathPrefix: string; readonly host: string | null };
  readonly origin: string;
  readonly volume: string | null;
}

export interface PolicyConfig {
  readonly writeMethods: readonly string[];
  readonly reserve: Amount;
  readonly floodStage: number;
  readonly floodRelease: number;
  readonly minFreeInodes: number;
  readonly maxBodySize: number;
  readonly unknownLength: number;
  readonly maxUploadShare: number;
  readonly staleAfter: number;
  readonly onUnknown: 'admit' | 'reject';
  readonly retryAfter: number;
  readonly contentRange: 'reject' | 'admit';
  readonly copyWalk: { readonly maxEntries: number; readonly timeout: number };
}

export interface LedgerConfig {
  readonly backend: 'memory' | 'redis';
  readonly url: string;
}

export type OtlpProtocol = 'http/protobuf' | 'http/json';

export interface TelemetryConfig {
  readonly serviceName: string;
  readonly traces: {
    readonly exporter: 'otlp' | 'console' | 'none';
    readonly endpoint: string;
    readonly protocol: OtlpProtocol;
  };
  readonly metrics: { readonly prometheus: boolean };
}

export interface PluginConfig {
  readonly name: string;
  readonly options: Readonly<Record<string, unknown>>;
}

export interface GatewayConfig {
  readonly log: { readonly level: LogLevel };
  readonly listen: ListenConfig;
  readonly admin: AdminConfig;
  readonly via: ViaConfig;
  readonly headers: HeadersConfig;
  readonly trustedProxies: readonly string[];
  readonly origins: readonly OriginConfig[];
  readonly routes: readonly RouteConfig[];
  readonly policy: PolicyConfig;
  readonly ledger: LedgerConfig;
  readonly telemetry: TelemetryConfig;
  readonly plugins: readonly PluginConfig[];
}
