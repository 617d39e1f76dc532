import http from 'node:http';
import https from 'node:https';
import type { Url } from 'node:url';
import { remoteSourceOf, type OriginConfig } from '../config/types.js';
import { OriginHealth } from '../headroom/origin-health.js';
import { SourceStatus } from '../headroom/source-status.js';
import { unbracketed } from '../http/host.js';

/** An origin as the proxy uses it: its parsed target and its own keep-alive pool. */
export interface Origin {
  readonly config: OriginConfig;
  readonly name: string;
  /** In the shape http-proxy reads without parsing it again per request. */
  readonly target: Partial<Url>;
  /** host:port it is reached at, as the access line names it. */
  readonly address: string;
  readonly agent: http.Agent;
  /** Null when no health checks are configured (then it is always used). */
  readonly health: OriginHealth | null;
  /** How the polls of the origin's remote source (agent, node_exporter, Prometheus) go; null without one. */
  readonly agentStatus: SourceStatus | null;
  /**
   * Exchanges routed to it that have not ended: an origin a reload removed
   * is forgotten once this reaches 0.
   */
  exchanges: number;
}

/** Bytes an upstream connection buffers before the client's upload is paused. */
export const UPSTREAM_WRITE_BUFFER = 128 * 1024;

/**
 * The origin for `config`. Given the origin of the same name from the
 * configuration before a reload, it keeps what still applies: the
 * connection pool when the address and its cap are unchanged, the health
 * state when the address and the checks are, the agent polls' status
 * while there is an agent.
 */
export function createOrigin(config: OriginConfig, previous: Origin | null = null): Origin {
  const url = new URL(config.url);
  const secure = url.protocol === 'https:';
  const same = (pick: (c: OriginConfig) => unknown): boolean => previous !== null && JSON.stringify(pick(previous.config)) === JSON.stringify(pick(config));
  // Node hands the agent's options on to each connection (net.Socket, TLS).
  const options: http.AgentOptions & { writableHighWaterMark: number } = {
    keepAlive: true,
    maxSockets: config.maxSockets > 0 ? config.maxSockets : Infinity,
    scheduling: 'lifo',
    // At Node's default of 16 KiB, every 64 KiB chunk read from a client
    // fills the upstream socket's buffer (http corks it until the next
    // tick), so the upload pauses and resumes on each chunk. Two chunks'
    // worth streams on: ~1,220 against ~850 MB/s on a 2 GiB PUT
    // (bench/NOTES.md), at most 192 KiB held per upload against a slow origin.
    writableHighWaterMark: UPSTREAM_WRITE_BUFFER,
  };
  return {
    config,
    name: config.name,
    address: `${url.hostname}:${url.port || (secure ? '443' : '80')}`,
    target: {
      protocol: url.protocol,
      hostname: unbracketed(url.hostname),
      port: url.port || (secure ? '443' : '80'),
      path: url.pathname === '/' ? '' : url.pathname,
    },
    agent: previous && same(poolSettings) ? previous.agent : secure ? new https.Agent(options) : new http.Agent(options),
    health: !config.headroom.health ? null : previous?.health && same((c) => [c.url, c.headroom.health]) ? previous.health : new OriginHealth(config.headroom.health.rise, config.headroom.health.fall),
    agentStatus: remoteSourceOf(config.headroom) === null ? null : (previous?.agentStatus ?? new SourceStatus()),
    exchanges: 0,
  };
}

/** What an origin's connection pool is made from. */
const poolSettings = (c: OriginConfig): unknown => [new URL(c.url).origin, c.maxSockets];
