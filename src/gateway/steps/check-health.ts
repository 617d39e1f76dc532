import type { Step } from '../../exchange/step.js';

/** An origin that health checks marked down gets no connection attempt: 503 from the gateway. */
export const checkHealth: Step = ({ route }) => {
  const origin = route!.origin;
  if (!origin.health || origin.health.usable) return undefined;
  const check = origin.config.headroom.health!;
  return {
    status: 503,
    error: 'origin_unavailable',
    detail: `Origin "${origin.name}" is failing its health checks (${origin.health.lastError ?? 'unknown error'}).`,
    suggestedAction: 'Retry later.',
    retryAfter: Math.ceil((check.interval * check.rise) / 1000),
    members: { origin: origin.name },
  };
};
