import type { GatewayConfig } from '../config/types.js';
import { ForwardingHeaders } from '../http/forwarding.js';
import { viaEntry } from '../http/via.js';
import { admission } from '../admission/admission.js';
import { storageGuard, volumeGuard } from '../admission/guard.js';
import type { HeadroomRegistry } from '../headroom/registry.js';
import { configuredVolumes } from './source-set.js';
import { volumeKey } from '../headroom/volume-state.js';
import type { Ledger } from '../ledger/ledger.js';
import type { Generation } from '../exchange/generation.js';
import { createOrigin, type Origin } from '../exchange/origin.js';
import { HeadRules } from './outgoing-head.js';
import { RouteTable } from './route-table.js';
import type { Constraint } from '../exchange/constraint.js';
import type { Step } from '../exchange/step.js';
import { checkFraming } from './steps/check-framing.js';
import { checkHealth } from './steps/check-health.js';
import { detectLoop } from './steps/detect-loop.js';
import { selectRoute } from './steps/select-route.js';

export interface GenerationParts {
  readonly registry: HeadroomRegistry;
  readonly ledger: Ledger;
  /** The running generation's origins, whose pools and health carry over (none at start). */
  readonly previous: ReadonlyMap<string, Origin>;
  /** Constraints that judge after the storage guard. */
  readonly constraints: readonly Constraint[];
  /** Steps that run after admission, before forwarding. */
  readonly extraSteps: readonly Step[];
}

export function buildGeneration(number: number, config: GatewayConfig, parts: GenerationParts): Generation {
  const origins = new Map(config.origins.map((o) => [o.name, createOrigin(o, parts.previous.get(o.name) ?? null)] as const));
  const pseudonym = config.via.enabled ? config.via.pseudonym : null;
  const route = selectRoute(new RouteTable(config.routes, origins), config.listen.encodedSlashes);
  const guarded = { registry: parts.registry, ledger: parts.ledger, policy: config.policy };
  // A route's further volumes (routes[].volumes), each judged by a guard of its own after the target's.
  const most = Math.max(1, ...config.routes.map((r) => r.volumes?.length ?? 1));
  const further = Array.from({ length: most - 1 }, (_, i) => volumeGuard(guarded, i + 1));
  const admit = admission([storageGuard(guarded), ...further, ...parts.constraints]);
  const steps: readonly Step[] = [checkFraming(config.listen.maxHeaders), ...(pseudonym ? [detectLoop(pseudonym)] : []), route, checkHealth, admit, ...parts.extraSteps];
  const volumeKeys = new Set<string>();
  for (const origin of origins.values()) {
    for (const volume of configuredVolumes(origin, config.routes)) volumeKeys.add(volumeKey(origin.name, volume));
  }
  return {
    number,
    config,
    origins,
    steps,
    checks: [route, admit],
    signature: { via: pseudonym && viaEntry('1.1', pseudonym), server: config.headers.server },
    linger: { time: config.listen.lingerTime, bytes: config.listen.lingerBytes },
    forward: {
      head: new HeadRules({
        pseudonym,
        forwarding: new ForwardingHeaders({ xForwarded: config.headers.xForwarded, forwarded: config.headers.forwarded, trustedProxies: config.trustedProxies }),
      }),
      body: { idleTimeout: config.listen.bodyIdleTimeout, minRate: config.listen.minBodyRate },
    },
    volumeKeys,
    quotas: parts.constraints.filter((c) => c.quota !== undefined),
    inFlight: 0,
  };
}
