import { Writable } from 'node:stream';
import type { Test } from 'tap';
import { startTestOrigin, type TestOrigin } from './origin.js';
import { loadGatewayConfig } from '../../src/config/load.js';
import type { GatewayConfig } from '../../src/config/types.js';
import { startGateway, type Gateway, type GatewayOptions } from '../../src/gateway/gateway.js';
import { createLogger } from '../../src/log/log.js';

/** A valid config for one origin at `originUrl`, routed at `/`, on an ephemeral loopback port. */
export function configFor(originUrl: string, values: Record<string, unknown> = {}): GatewayConfig {
  const result = loadGatewayConfig({
    file: null,
    env: {},
    values: {
      listen: { host: '127.0.0.1', port: 0, ...(values.listen as object) },
      admin: { host: '127.0.0.1', port: 0, ...(values.admin as object) },
      origins: [{ name: 'files', url: originUrl, connectTimeout: '1s', timeout: '2s' }],
      routes: [{ match: { pathPrefix: '/' }, origin: 'files' }],
      log: { level: 'info' },
      ...Object.fromEntries(Object.entries(values).filter(([k]) => k !== 'listen' && k !== 'admin')),
    },
  });
  if (!result.ok) throw new Error(result.problems.join('\n'));
  return result.config;
}

export interface RunningGateway extends Gateway {
  readonly url: string;
  readonly port: number;
  /** Access-log lines written so far. */
  readonly logLines: Array<Record<string, unknown>>;
}

/** `startGateway` logging into `logLines`; `extra` are steps after the guard, or further options. */
export async function startTestGateway(config: GatewayConfig, extra: GatewayOptions['steps'] | Omit<GatewayOptions, 'logger'> = {}): Promise<RunningGateway> {
  const logLines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line) logLines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const options = Array.isArray(extra) ? { steps: extra } : (extra as Omit<GatewayOptions, 'logger'>);
  const gateway = await startGateway(config, { ...options, logger: createLogger(config.log.level, sink) });
  const port = gateway.address.port;
  return Object.assign(gateway, { url: `http://127.0.0.1:${port}`, port, logLines });
}

/**
 * A file-storing origin behind a gateway configured by `configFor(origin, values)`;
 * both are closed when the test ends.
 */
export async function originBehindGateway(t: Test, values: Record<string, unknown> = {}): Promise<{ origin: TestOrigin; gateway: RunningGateway }> {
  const origin = await startTestOrigin();
  t.teardown(() => origin.close());
  return { origin, gateway: await gatewayFor(t, origin.url, values) };
}

/** A gateway in front of `originUrl`, shut down when the test ends. */
export async function gatewayFor(t: Test, originUrl: string, values: Record<string, unknown> = {}): Promise<RunningGateway> {
  const gateway = await startTestGateway(configFor(originUrl, values));
  t.teardown(() => gateway.shutdown());
  return gateway;
}
