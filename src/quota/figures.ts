import { usableBytes } from '../decision/decision.js';
import type { Exchange } from '../exchange/exchange.js';
import type { HeadroomRegistry } from '../headroom/registry.js';
import type { Ledger } from '../ledger/ledger.js';
import type { QuotaFigures } from './fill-multistatus.js';

/**
 * The quota figures a PROPFIND's answer shows (docs/quota-properties.md):
 * the route's volume — available = the usable room as /status shows it
 * (never below 0), used = total − available as the volume reports them —
 * unless a constraint shows the client a room of its own (a tenant's
 * quota): then its used, and the smaller of the two availables. Null
 * without fresh figures.
 */
export function quotaFigures(exchange: Exchange, registry: HeadroomRegistry, ledger: Ledger, now = Date.now()): QuotaFigures | null {
  let figures = volumeFigures(exchange, registry, ledger, now);
  for (const constraint of exchange.generation.quotas) {
    const own = constraint.quota!(exchange);
    if (own === null) continue;
    const available = Math.max(0, own.availableBytes);
    figures = {
      'quota-available-bytes': figures === null ? available : Math.min(figures['quota-available-bytes'], available),
      'quota-used-bytes': Math.max(0, own.usedBytes),
    };
  }
  return figures;
}

function volumeFigures(exchange: Exchange, registry: HeadroomRegistry, ledger: Ledger, now: number): QuotaFigures | null {
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
