import type { Meter } from '@opentelemetry/api';

/**
 * The process's own figures in OpenTelemetry's names — `process.cpu.time`
 * (by `cpu.mode`) and `process.memory.usage` (resident set) — read when
 * scraped; the runtime instrumentation adds the heap and the event loop.
 */
export function processMetrics(meter: Meter): void {
  meter.createObservableCounter('process.cpu.time', { description: 'CPU time of this process', unit: 's' }).addCallback((r) => {
    const { user, system } = process.cpuUsage();
    r.observe(user / 1e6, { 'cpu.mode': 'user' });
    r.observe(system / 1e6, { 'cpu.mode': 'system' });
  });
  meter.createObservableGauge('process.memory.usage', { description: 'Resident set size of this process', unit: 'By' }).addCallback((r) => r.observe(process.memoryUsage.rss()));
}
