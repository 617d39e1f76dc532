import http from 'node:http';
import { statusRange } from '../config/formats.js';
import type { HealthConfig } from '../config/types.js';
import type { Logger } from '../log/log.js';
import type { OriginHealth } from './origin-health.js';
import { every, poll } from './poll.js';
import type { Tracer } from '@opentelemetry/api';
import { pollSpans, type PollOutcome } from './poll-span.js';

/**
 * Active health checks: `GET health.path` on the origin every interval
 * (jittered, never overlapping); a status `health.expect` lists (2xx or
 * 3xx unless it says otherwise) within the timeout is a success. Returns a
 * stop function.
 */
export function startHealthCheck(origin: string, baseUrl: string, config: HealthConfig, health: OriginHealth, logger: Logger, tracer: Tracer | null): () => void {
  const url = `${baseUrl}${config.path}`;
  const expected = config.expect.map((entry) => statusRange(entry)!);
  const up = (status: number): boolean => expected.some(([low, high]) => status >= low && status <= high);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const check = async (): Promise<PollOutcome> => {
    const result = await poll(url, { timeout: config.timeout, maxBytes: 64 * 1024, agent });
    const was = health.healthy;
    const error = result.ok && up(result.status) ? null : result.ok ? `HTTP ${result.status}` : result.error;
    if (error === null) health.success();
    else health.failure(error);
    if (health.healthy !== was && was !== null) {
      logger.warn({ msg: health.healthy ? 'origin up' : 'origin down', origin, lastError: health.lastError });
    }
    return { error, status: result.ok ? result.status : null };
  };
  const traced = pollSpans(tracer, 'headroom.poll health', { 'headroom.origin': origin, 'url.full': url });
  const stop = every(config.interval, () => traced(check));
  return () => {
    stop();
    agent.destroy();
  };
}
