import type { Counter, Meter } from '@opentelemetry/api';
import { remoteSourceOf, type PolicyConfig } from '../config/types.js';
import type { Exchange } from '../exchange/exchange.js';
import { usableBytes } from '../decision/decision.js';
import type { HeadroomRegistry } from '../headroom/registry.js';
import type { Ledger } from '../ledger/ledger.js';
import type { Origin } from '../exchange/origin.js';
import { packageVersion } from '../package-version.js';
import { HttpMetrics } from './http-metrics.js';
import type { BoundCounter, BoundHistogram, BoundInstruments, CounterSeries, HistogramSeries } from './bound-instruments.js';

/**
 * The gateway's metrics (docs/telemetry.md), through the OpenTelemetry metrics API.
 * Names carry their unit as Prometheus expects (the exporter adds only
 * `_total` to counters):
 * decisions by decision/reason/origin, upstream latency, requests in
 * flight, and per volume its bytes, inodes, snapshot age and growth — the volume
 * figures are read from the registry when scraped, not kept up to date.
 */
export class GatewayMetrics {
  readonly #decisions: BoundCounter;
  /** The decisions counter's series by origin, then decision, then reason. */
  readonly #decisionSeries = new Map<string, Map<string, Map<string, CounterSeries>>>();
  readonly #upstream: BoundHistogram;
  /** The upstream histogram's series by origin name. */
  readonly #upstreamByOrigin = new Map<string, HistogramSeries>();
  readonly #upstreamFailures: Counter;
  readonly #http: HttpMetrics;

  /** Without a `registry`, no volume or origin figures: a group's worker leaves them to the primary. */
  constructor(meter: Meter, bound: BoundInstruments, registry: HeadroomRegistry | null, ledger: Ledger, policy: () => PolicyConfig, inFlight: () => number, origins: () => ReadonlyMap<string, Origin>) {
    this.#decisions = bound.counter('headroom_decisions', { description: 'Admission decisions about writes' });
    this.#upstream = bound.histogram('headroom_upstream_duration_seconds', {
      description: 'Time from forwarding a request to the start of the origin’s response',
      unit: 's',
      boundaries: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    });
    this.#upstreamFailures = meter.createCounter('headroom_upstream_failures', { description: 'Exchanges with the origin that failed, by reason (refused, reset, timeout, connect_timeout, error)' });
    this.#http = new HttpMetrics(bound);
    meter.createObservableGauge('headroom_requests_in_flight', { description: 'Exchanges in progress' }).addCallback((r) => r.observe(inFlight()));
    const build = { version: packageVersion(), node: process.version };
    meter.createObservableGauge('headroom_build_info', { description: 'Always 1; the labels say which build runs' }).addCallback((r) => r.observe(1, build));
    meter
      .createObservableGauge('headroom_ledger_shared', { description: '1 while writes are judged by the shared ledger (Redis answers); 0 while ledger.onUnavailable applies; absent for a memory ledger' })
      .addCallback((r) => {
        const { state } = ledger.describe();
        if (state !== 'process') r.observe(state === 'shared' ? 1 : 0);
      });
    meter
      .createObservableCounter('headroom_ledger_unavailable', { description: 'Times the shared ledger stopped answering and writes fell to ledger.onUnavailable' })
      .addCallback((r) => r.observe(ledger.describe().unavailable));

    if (registry) this.#volumes(meter, registry, ledger, policy, origins);
  }

  #volumes(meter: Meter, registry: HeadroomRegistry, ledger: Ledger, policy: () => PolicyConfig, origins: () => ReadonlyMap<string, Origin>): void {
    const gauge = (name: string, description: string, unit: string) => meter.createObservableGauge(name, { description, unit });
    const usable = gauge('headroom_volume_usable_bytes', 'Bytes a write can get now (usable, docs/admission.md)', 'By');
    const total = gauge('headroom_volume_total_bytes', 'Volume size', 'By');
    const available = gauge('headroom_volume_available_bytes', 'Bytes available to unprivileged writers', 'By');
    const reserved = gauge('headroom_volume_reserved_bytes', 'Bytes reserved for uploads in flight', 'By');
    const inodes = gauge('headroom_volume_free_inodes', 'Free inodes', '');
    const age = gauge('headroom_volume_snapshot_age_seconds', 'Age of the latest snapshot', 's');
    const flood = gauge('headroom_volume_flood', '1 while the volume is at flood stage (every write refused), else 0', '');
    const full = gauge('headroom_volume_marked_full', '1 while the origin’s own 507 marks the volume full (until a fresh snapshot), else 0', '');
    const pollFailures = meter.createObservableCounter('headroom_poll_failures', { description: 'Failed source polls and health checks, by origin and source (agent, nodeExporter, prometheus, health)' });
    const measureFailures = meter.createObservableCounter('headroom_volume_measurement_failures', { description: 'Times a volume’s figures could not be had (a measurement failed, or the agent left it out)' });
    const growthRate = gauge('headroom_volume_growth_bytes_per_second', 'Growth of used bytes over recent snapshots (least-squares slope; negative when shrinking)', 'By/s');
    const toFlood = gauge('headroom_volume_seconds_to_flood_stage', 'Projected time until usage reaches flood stage at the growth rate; 0 at or past it; absent when it is not growing', 's');
    const up = gauge('headroom_origin_up', '1 while the origin passes its health checks, 0 while they mark it down (origins with checks only)', '');
    meter.addBatchObservableCallback(
      (r) => {
        const now = Date.now();
        const current = policy();
        for (const state of registry.all()) {
          const labels = { origin: state.origin, volume: state.volume };
          const held = ledger.reservedBytes(state.key);
          r.observe(reserved, held, labels);
          r.observe(flood, state.flooded ? 1 : 0, labels);
          r.observe(full, state.markedFull ? 1 : 0, labels);
          r.observe(measureFailures, state.errors, labels);
          const s = state.snapshot;
          if (!s) continue;
          r.observe(total, s.totalBytes, labels);
          r.observe(available, s.availableBytes, labels);
          // The decision keeps its signed figure (an overcommitted volume is below 0); a gauge of room says none.
          r.observe(usable, Math.max(0, usableBytes(s, { reservedBytes: held, writtenSinceSnapshot: state.writtenSinceSnapshot }, current)), labels);
          if (s.freeInodes !== null) r.observe(inodes, s.freeInodes, labels);
          r.observe(age, (now - s.takenAt) / 1000, labels);
          if (registry.growth) {
            const growth = registry.growth.growth(state.key, s.totalBytes, current.floodStage);
            if (growth.bytesPerSecond !== null) r.observe(growthRate, growth.bytesPerSecond, labels);
            if (growth.secondsToFloodStage !== null) r.observe(toFlood, growth.secondsToFloodStage, labels);
          }
        }
        for (const origin of origins().values()) {
          const healthy = origin.health?.healthy;
          if (healthy !== undefined && healthy !== null) r.observe(up, healthy ? 1 : 0, { origin: origin.name });
          if (origin.health) r.observe(pollFailures, origin.health.failedChecks, { origin: origin.name, source: 'health' });
          if (origin.agentStatus) r.observe(pollFailures, origin.agentStatus.failures, { origin: origin.name, source: remoteSourceOf(origin.config.headroom) ?? 'agent' });
        }
      },
      [usable, total, available, reserved, inodes, age, flood, full, growthRate, toFlood, up, pollFailures, measureFailures],
    );
  }

  /** At the exchange's end. */
  exchangeEnded(exchange: Exchange): void {
    this.#http.served(exchange, exchange.res.writableFinished ? exchange.res.statusCode : 499);
    const d = exchange.admission;
    if (d) this.#decision(exchange.route?.origin.name ?? '', d.decision, d.reason).add(1);
    else if (exchange.loop) this.#decision('', 'reject', 'loop').add(1);
  }

  #decision(origin: string, decision: string, reason: string): CounterSeries {
    let byDecision = this.#decisionSeries.get(origin);
    if (!byDecision) this.#decisionSeries.set(origin, (byDecision = new Map()));
    let byReason = byDecision.get(decision);
    if (!byReason) byDecision.set(decision, (byReason = new Map()));
    let series = byReason.get(reason);
    if (!series) byReason.set(reason, (series = this.#decisions.series({ decision, reason, origin })));
    return series;
  }

  /** When the origin's response starts. */
  originAnswered(exchange: Exchange, status: number): void {
    const origin = exchange.route!.origin.name;
    let series = this.#upstreamByOrigin.get(origin);
    if (!series) this.#upstreamByOrigin.set(origin, (series = this.#upstream.series({ origin })));
    series.record(exchange.upstreamMs! / 1000);
    this.#http.answered(exchange, status);
  }

  upstreamFailed(exchange: Exchange, reason: string): void {
    this.#upstreamFailures.add(1, { origin: exchange.route!.origin.name, reason });
  }
}
