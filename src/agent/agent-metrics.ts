import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Counter } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import type { VolumeReport } from '../headroom/agent-report.js';

/**
 * The agent's metrics (docs/agent.md), as Prometheus text on its own
 * `/metrics`: what it answered, and its volumes' figures measured when
 * scraped — so that hosts scraped by Prometheus anyway need no second
 * exporter for what the agent reports.
 */
export class AgentMetrics {
  readonly #provider: MeterProvider;
  readonly #exporter = new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true });
  readonly #reports: Counter;

  constructor(measure: () => Promise<VolumeReport[]>) {
    this.#provider = new MeterProvider({ readers: [this.#exporter] });
    const meter = this.#provider.getMeter('headroom-agent');
    this.#reports = meter.createCounter('headroom_agent_reports', { description: 'Answers to GET /v1/volumes, by outcome (ok, failed, unauthorized)' });
    const gauge = (name: string, description: string, unit: string) => meter.createObservableGauge(name, { description, unit });
    const total = gauge('headroom_agent_volume_total_bytes', 'Volume size', 'By');
    const available = gauge('headroom_agent_volume_available_bytes', 'Bytes available to unprivileged writers', 'By');
    const freeInodes = gauge('headroom_agent_volume_free_inodes', 'Free inodes', '');
    meter.addBatchObservableCallback(
      async (r) => {
        for (const v of await measure().catch(() => [] as VolumeReport[])) {
          const labels = { volume: v.mount };
          r.observe(total, v.totalBytes, labels);
          r.observe(available, v.availableBytes, labels);
          if (v.freeInodes !== null) r.observe(freeInodes, v.freeInodes, labels);
        }
      },
      [total, available, freeInodes],
    );
  }

  reported(outcome: 'ok' | 'failed' | 'unauthorized'): void {
    this.#reports.add(1, { outcome });
  }

  serve(req: IncomingMessage, res: ServerResponse): void {
    this.#exporter.getMetricsRequestHandler(req, res);
  }

  shutdown(): Promise<void> {
    return this.#provider.shutdown();
  }
}
