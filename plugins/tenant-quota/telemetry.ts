import type { Counter } from '@opentelemetry/api';
import type { Admission, Exchange, PluginContext, RoomStatus } from '../../src/index.js';
import type { Quotas } from './quota-file.js';

/** What stands for every tenant without a label of its own. */
const OTHER = 'other';

/**
 * Metrics and span attributes by tenant, with bounded cardinality: only
 * the first `tenantLabels` tenants the quota file names get a label of
 * their own, every other tenant is `other`; with 0 (the default) no
 * tenant is named at all.
 */
export class TenantTelemetry {
  #labelled = new Set<string>();
  #enabled = false;
  readonly #figures: () => readonly RoomStatus[];
  readonly #refusals: Counter | null;

  /** `figures`: every measured tenant's figures now. */
  constructor(context: PluginContext, tenantLabels: number, quotas: Quotas, figures: () => readonly RoomStatus[]) {
    this.#figures = figures;
    this.configure(tenantLabels, quotas);
    const meter = context.meter;
    this.#refusals = meter?.createCounter('headroom_tenant_refusals', { description: 'Writes the tenant quota refused, by error (and tenant, when labelled)' }) ?? null;
    if (!meter) return;
    const gauge = (name: string, description: string, value: (s: RoomStatus) => number): void =>
      meter.createObservableGauge(name, { description, unit: 'By' }).addCallback((result) => {
        if (!this.#enabled) return;
        for (const [tenant, sum] of this.#sums(value)) result.observe(sum, { tenant });
      });
    gauge('headroom_tenant_quota_bytes', 'Quota of each labelled tenant (others summed as "other")', (s) => s.totalBytes);
    gauge('headroom_tenant_used_bytes', 'Bytes stored by each labelled tenant at the last measurement (others summed as "other")', (s) => s.usedBytes);
    gauge('headroom_tenant_reserved_bytes', 'Bytes held by writes in flight, by labelled tenant', (s) => s.reservedBytes);
  }

  configure(tenantLabels: number, quotas: Quotas): void {
    this.#enabled = tenantLabels > 0;
    this.#labelled = new Set([...quotas.tenants.keys()].slice(0, tenantLabels));
  }

  label(tenant: string): string {
    return this.#labelled.has(tenant) ? tenant : OTHER;
  }

  onSpan(exchange: Exchange, tenant: string): void {
    if (this.#enabled) exchange.span?.setAttribute('headroom.tenant', this.label(tenant));
  }

  /** Counts a refusal; returns the admission unchanged. */
  judged(tenant: string | null, admission: Admission): Admission {
    if (admission !== undefined && 'status' in admission && this.#refusals) {
      this.#refusals.add(1, this.#enabled && tenant !== null ? { error: admission.error, tenant: this.label(tenant) } : { error: admission.error });
    }
    return admission;
  }

  #sums(value: (s: RoomStatus) => number): Map<string, number> {
    const sums = new Map<string, number>();
    for (const s of this.#figures()) {
      const tenant = this.label(s.room);
      sums.set(tenant, (sums.get(tenant) ?? 0) + value(s));
    }
    return sums;
  }
}
