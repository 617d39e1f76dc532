import { usableBytes } from '../decision/decision.js';
import type { Exchange } from '../exchange/exchange.js';
import type { HeadroomRegistry } from '../headroom/registry.js';
import type { Ledger } from '../ledger/ledger.js';
import type { QuotaFigures } from './fill-multistatus.js';

/**
 * The quota figures of the exchange's route's volume (docs/quota-properties.md):
 * available = the usable room as /status shows it (never below 0), used =
 * total − available as the volume reports them. Null without a fresh snapshot.
 */
export function quotaFigures(exchange: Exchange, registry: HeadroomRegistry, ledger: Ledger, now = Date.now()): QuotaFigures | null {
  const route = exchange.route;
  if (route === null || route.volume === null) return null;
  const state = registry.get(route.origin.name, route.volume);
  const snapshot = state?.snapshot;
  const policy = exchange.generation.config.policy;
  if (!state || !snapshot || now - snapshot.takenAt > policy.staleAfter) return null;
  const view = { reservedBytes: ledger.reservedBytes(state.key), writtenSinceSnapshot: state.writtenSinceSnapshot };
  return {
    'quota-available-bytes': Math.max(0, usableBytes(snapshot, view, policy)),
    'quota-used-bytes': Math.max(0, snapshot.totalBytes - snapshot.availableBytes),
  };
}
