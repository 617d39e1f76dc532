import type { AgentConfig } from './agent-config.js';
import { REMOTE_SOURCES, type GatewayConfig } from './types.js';

/** Tokens people leave in from an example: a secret anyone could guess. */
const PLACEHOLDER = /^(change[-_ .]?me|change[-_ .]?it|replace[-_ .]?(me|with.*)|secret|password|passwd|token|test|example|todo|x+|your[-_ .].*|<.*>|\$\{.*\})$/i;

/** A listener's host that only this machine reaches. */
function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^(::ffff:)?127\./i.test(host);
}

function placeholder(key: string, token: string): string[] {
  return PLACEHOLDER.test(token.trim()) ? [`${key}: "${token}" looks like a placeholder from an example; anyone could guess it — set a secret of your own`] : [];
}

/**
 * What is valid but probably not meant: a secret left as the example's
 * placeholder, an admin listener open to every address without a token.
 * Said by check-config and logged at start; never a reason to refuse.
 */
export function gatewayWarnings(config: GatewayConfig): string[] {
  const warnings = [...placeholder('admin.token', config.admin.token)];
  if (config.admin.token === '' && !isLoopbackHost(config.admin.host)) {
    warnings.push(`admin.token: empty while the admin listener is on ${config.admin.host}: /status, /metrics and the status page answer anyone who reaches it (POST /reload stays off); set a token, or listen on 127.0.0.1`);
  }
  config.origins.forEach((origin, i) => {
    for (const kind of REMOTE_SOURCES) {
      const source = origin.headroom[kind];
      if (source) warnings.push(...placeholder(`origins[${i}].headroom.${kind}.token`, source.token));
    }
  });
  return warnings;
}

/** The agent's token, as the gateway's; `open`: also an empty one beyond loopback (the running agent says that on the address it bound). */
export function agentWarnings(config: AgentConfig, { open }: { open: boolean }): string[] {
  const warnings = [...placeholder('token', config.token)];
  if (open && config.token === '' && !isLoopbackHost(config.listen.host)) {
    warnings.push(`token: empty while the agent listens on ${config.listen.host}: anyone who reaches it reads this host's mounts and devices; set a token, or listen on 127.0.0.1`);
  }
  return warnings;
}
