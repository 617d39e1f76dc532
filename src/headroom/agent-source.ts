import http from 'node:http';
import type { AgentSourceConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import { parseAgentAnswer } from './agent-answer.js';
import { every, poll } from './poll.js';
import type { HeadroomRegistry } from './registry.js';
import type { SourceStatus } from './source-status.js';
import type { Tracer } from '@opentelemetry/api';
import { tracedPoll } from '../telemetry/poll-span.js';

const MAX_ANSWER_BYTES = 1024 * 1024;

/**
 * The gateway shape's source: polls an origin host's agent on its interval
 * (jittered; the next poll is scheduled when one ends, so a slow agent never
 * piles polls up) and records a snapshot per reported volume. A bad or
 * missing answer records nothing: the volumes' snapshots age into unknown.
 */
export function startAgentSource(origin: string, config: AgentSourceConfig, registry: HeadroomRegistry, status: SourceStatus, logger: Logger, tracer: Tracer | null): () => void {
  const url = `${config.url.replace(/\/+$/, '')}/v1/volumes`;
  const headers = config.token ? { authorization: `Bearer ${config.token}` } : {};
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

  const once = async (): Promise<string | null> => {
    const takenAt = Date.now();
    const marks = new Map(registry.volumesOf(origin).map((v) => [v.volume, v.writtenMark()]));
    const result = await poll(url, { timeout: config.timeout, maxBytes: MAX_ANSWER_BYTES, headers, agent });
    let error: string | null = null;
    if (!result.ok) error = result.error;
    else if (result.status !== 200) error = `HTTP ${result.status}`;
    else {
      const answer = parseAgentAnswer(result.body);
      if (!answer.ok) error = `bad answer: ${answer.error}`;
      else {
        for (const v of answer.volumes) {
          const state = registry.volume(origin, v.mount);
          state.record({ totalBytes: v.totalBytes, availableBytes: v.availableBytes, totalInodes: v.totalInodes, freeInodes: v.freeInodes, takenAt, source: 'agent' }, marks.get(v.mount) ?? state.writtenMark());
        }
      }
    }
    if (error !== null && error !== status.lastError) logger.warn({ msg: 'agent poll failed', origin, url, error });
    status.report(error);
    return error;
  };

  const stop = every(config.interval, () => tracedPoll(tracer, 'headroom.poll agent', { 'headroom.origin': origin, 'url.full': url }, once));
  return () => {
    stop();
    agent.destroy();
  };
}
