import http from 'node:http';
import type { AgentSourceConfig } from '../config/types.js';
import type { Logger } from '../log/log.js';
import { parseAgentAnswer } from './agent-answer.js';
import { every, poll } from './poll.js';
import type { HeadroomRegistry } from './registry.js';
import type { SourceStatus } from './source-status.js';
import type { Tracer } from '@opentelemetry/api';
import { pollSpans, type PollOutcome } from './poll-span.js';

const MAX_ANSWER_BYTES = 1024 * 1024;
const NOT_REPORTED = 'not in the agent’s answer: check that the agent reports this path (its `paths`) under this name';

/**
 * The gateway shape's source: polls an origin host's agent on its interval
 * (jittered; the next poll is scheduled when one ends, so a slow agent never
 * piles polls up) and records a snapshot for each of `volumes` (those the
 * configuration names) that the answer reports. Whatever else the agent
 * reports is ignored and never enters the registry. A bad or missing
 * answer records nothing, and a volume missing from a good one gets no new
 * snapshot: either way its snapshot ages into unknown after staleAfter.
 */
export function startAgentSource(
  origin: string,
  volumes: ReadonlySet<string>,
  config: AgentSourceConfig,
  registry: HeadroomRegistry,
  status: SourceStatus,
  logger: Logger,
  tracer: Tracer | null,
): () => void {
  const url = `${config.url.replace(/\/+$/, '')}/v1/volumes`;
  const headers = config.token ? { authorization: `Bearer ${config.token}` } : {};
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const states = [...volumes].map((volume) => registry.volume(origin, volume));
  /** What the current run of failed polls was last logged as; null after a good answer. */
  let logged: string | null = null;

  const once = async (): Promise<PollOutcome> => {
    const sentAt = Date.now();
    const marks = states.map((state) => state.writtenMark());
    const result = await poll(url, { timeout: config.timeout, maxBytes: MAX_ANSWER_BYTES, headers, agent });
    let error: string | null = null;
    let kind: string | null = null;
    if (!result.ok) error = kind = result.error;
    else if (result.status !== 200) error = kind = `HTTP ${result.status}`;
    else {
      const answer = parseAgentAnswer(result.body, { sentAt, receivedAt: Date.now(), maxClockSkew: config.maxClockSkew });
      if (!answer.ok) {
        error = `bad answer: ${answer.error}`;
        kind = `bad answer (${answer.check})`;
      } else {
        const reported = new Map(answer.volumes.map((v) => [v.mount, v]));
        states.forEach((state, i) => {
          const v = reported.get(state.volume);
          if (!v) {
            if (state.lastError !== NOT_REPORTED) logger.warn({ msg: 'agent does not report a configured volume', origin, url, volume: state.volume });
            return state.recordError(NOT_REPORTED);
          }
          state.record({ totalBytes: v.totalBytes, availableBytes: v.availableBytes, totalInodes: v.totalInodes, freeInodes: v.freeInodes, takenAt: sentAt, source: 'agent' }, marks[i]!);
        });
      }
    }
    if (kind !== null && kind !== logged) logger.warn({ msg: 'agent poll failed; nothing from it is used', origin, url, error });
    logged = kind;
    status.report(error);
    return { error, status: result.ok ? result.status : null };
  };

  const traced = pollSpans(tracer, 'headroom.poll agent', { 'headroom.origin': origin, 'url.full': url });
  const stop = every(config.interval, () => traced(once));
  return () => {
    stop();
    agent.destroy();
  };
}
