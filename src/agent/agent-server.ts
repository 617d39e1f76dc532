import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import os from 'node:os';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { AgentConfig } from '../config/agent-config.js';
import { bearerAllows } from '../http/bearer.js';
import type { Logger } from '../log/log.js';
import { MountTable, reportVolumes } from './volumes.js';
import { AgentMetrics } from './agent-metrics.js';
import { UsageRounds } from './usage-rounds.js';

export interface Agent {
  readonly address: AddressInfo;
  close(): Promise<void>;
}

const MOUNT_REFRESH_MS = 60_000;

/** `headroom agent`: reports this host's volumes to gateways (docs/agent.md). */
export async function startAgent(config: AgentConfig, logger: Logger): Promise<Agent> {
  const mounts = new MountTable();
  await mounts.start(MOUNT_REFRESH_MS);
  const host = os.hostname();
  const measure = () => reportVolumes(config.paths, config.baseDir, mounts);
  const metrics = new AgentMetrics(measure);
  const usage = new UsageRounds(config.usage.roots, config.baseDir, config.usage.interval);
  usage.start();

  const json = (res: ServerResponse, status: number, body: unknown, headers: http.OutgoingHttpHeaders = {}): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...headers });
    res.end(text);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = req.url ?? '/';
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: 'method_not_allowed' }, { allow: 'GET, HEAD' });
    if (url === '/healthz') return json(res, 200, { status: 'ok' });
    if (url !== '/v1/volumes' && url !== '/v1/usage' && url !== '/metrics') return json(res, 404, { error: 'not_found', detail: 'GET /v1/volumes, /v1/usage, /metrics or /healthz' });
    // /metrics and /v1/usage tell what /v1/volumes does: the same token.
    if (!bearerAllows(req.headers, config.token)) {
      if (url === '/v1/volumes') metrics.reported('unauthorized');
      return json(res, 401, { error: 'unauthorized', detail: 'send Authorization: Bearer <token>' }, { 'www-authenticate': 'Bearer realm="headroom-agent"' });
    }
    if (url === '/metrics') return metrics.serve(req, res);
    // The latest round's figures: a request never starts a walk.
    if (url === '/v1/usage') return json(res, 200, { host, time: new Date().toISOString(), roots: usage.report() });
    try {
      const volumes = await measure();
      metrics.reported('ok');
      json(res, 200, { host, time: new Date().toISOString(), volumes });
    } catch (err) {
      metrics.reported('failed');
      logger.warn({ msg: 'cannot measure volumes', error: (err as Error).message });
      json(res, 500, { error: 'measurement_failed', detail: (err as Error).message });
    }
  };

  const server = http.createServer((req, res) => void handle(req, res));
  server.listen(config.listen.port, config.listen.host);
  await once(server, 'listening');
  const address = server.address() as AddressInfo;
  logger.info({ msg: 'agent listening', host: address.address, port: address.port, paths: config.paths, usageRoots: config.usage.roots });
  if (config.token === '' && !isLoopback(address)) {
    logger.warn({ msg: 'agent serves without a token on a non-loopback address: anyone who reaches it reads this host’s mounts and devices; set `token`, or listen on 127.0.0.1', host: address.address, port: address.port });
  }
  return {
    address,
    close: async () => {
      mounts.stop();
      await usage.stop();
      await metrics.shutdown();
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

/** The bound address is a loopback one (an IPv4-mapped one included); 0.0.0.0 and :: are every address. */
function isLoopback(address: AddressInfo): boolean {
  return address.address === '::1' || /^(::ffff:)?127\./i.test(address.address);
}
