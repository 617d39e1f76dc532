import http from 'node:http';
import https from 'node:https';
import type { Url } from 'node:url';
import type { OriginConfig } from '../config/types.js';

/** An origin as the proxy uses it: its parsed target and its own keep-alive pool. */
export interface Origin {
  readonly config: OriginConfig;
  readonly name: string;
  /** In the shape http-proxy reads without parsing it again per request. */
  readonly target: Partial<Url>;
  readonly agent: http.Agent;
}

export function createOrigin(config: OriginConfig): Origin {
  const url = new URL(config.url);
  const secure = url.protocol === 'https:';
  const options: http.AgentOptions = {
    keepAlive: true,
    maxSockets: config.maxSockets > 0 ? config.maxSockets : Infinity,
    scheduling: 'lifo',
  };
  return {
    config,
    name: config.name,
    target: {
      protocol: url.protocol,
      hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: url.port || (secure ? '443' : '80'),
      path: url.pathname === '/' ? '' : url.pathname,
    },
    agent: secure ? new https.Agent(options) : new http.Agent(options),
  };
}
