import t, { type Test } from 'tap';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { BoundInstruments } from '../src/telemetry/bound-instruments.js';

const BOUNDARIES = [0.005, 0.01, 0.025, 0.05, 0.1, 1];

/** Bound instruments and the SDK's own side by side, behind one Prometheus exporter. */
function exporting(t: Test) {
  const resource = resourceFromAttributes({ 'service.name': 'test' });
  const bound = new BoundInstruments(resource);
  const exporter = new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true, metricProducers: [bound] });
  const provider = new MeterProvider({ resource, readers: [exporter] });
  t.teardown(() => provider.shutdown());
  /** The exposition text, and the lines of one metric without its name, sorted. */
  const exposition = async (): Promise<{ text: string; of: (name: string) => string[] }> => {
    const text = new PrometheusSerializer('', false, undefined, false, true).serialize((await exporter.collect()).resourceMetrics);
    const of = (name: string) =>
      text
        .split('\n')
        .filter((l) => l.startsWith(name))
        .map((l) => l.slice(name.length))
        .sort();
    return { text, of };
  };
  return { bound, meter: provider.getMeter('test'), exposition };
}

t.test('a bound series exports what the SDK histogram exports for the same values', async (t) => {
  const { bound, meter, exposition } = exporting(t);
  const sdk = meter.createHistogram('sdk.duration', { description: 'd', unit: 's', advice: { explicitBucketBoundaries: BOUNDARIES } });
  const histogram = bound.histogram('bound.duration', { description: 'd', unit: 's', boundaries: BOUNDARIES });
  const a = histogram.series({ route: '/a', status: 200 });
  const b = histogram.series({ route: '/b', status: 507 });
  // Values on a boundary belong to its bucket (le is inclusive); below the first, above the last.
  for (const v of [0, 0.005, 0.0051, 0.01, 0.3, 1, 1.5, 42, 0.024999]) {
    sdk.record(v, { route: '/a', status: 200 });
    a.record(v);
  }
  sdk.record(0.02, { route: '/b', status: 507 });
  b.record(0.02);
  const { text, of } = await exposition();
  t.ok(of('bound_duration').length > 10, 'the bound histogram is exported');
  t.same(of('bound_duration'), of('sdk_duration'), 'the same buckets, counts and sums, series by series');
  t.match(text, /^bound_duration_bucket\{route="\/a",status="200",le="0\.005"\} 2$/m, 'a boundary value counts in its bucket');
  t.match(text, /^bound_duration_count\{route="\/b",status="507"\} 1$/m);
  t.match(text, /^# TYPE bound_duration histogram$/m);
});

t.test('a bound counter exports what the SDK counter exports', async (t) => {
  const { bound, meter, exposition } = exporting(t);
  const sdk = meter.createCounter('sdk_decisions', { description: 'd' });
  const counter = bound.counter('bound_decisions', { description: 'd' });
  const admitted = counter.series({ decision: 'admit', reason: 'fits', origin: 'a' });
  const refused = counter.series({ decision: 'reject', reason: 'insufficient_storage', origin: 'a' });
  for (let i = 0; i < 3; i++) {
    admitted.add(1);
    sdk.add(1, { decision: 'admit', reason: 'fits', origin: 'a' });
  }
  refused.add(1);
  sdk.add(1, { decision: 'reject', reason: 'insufficient_storage', origin: 'a' });
  const { text, of } = await exposition();
  t.same(of('bound_decisions'), of('sdk_decisions'), 'the same series and values');
  t.match(text, /^bound_decisions_total\{decision="admit",reason="fits",origin="a"\} 3$/m, 'named as a counter, with _total');
  t.match(text, /^# TYPE bound_decisions_total counter$/m);
});

t.test('an instrument with no series yet exports nothing', async (t) => {
  const bound = new BoundInstruments(resourceFromAttributes({}));
  bound.histogram('idle.duration', { description: 'd', unit: 's', boundaries: BOUNDARIES });
  bound.counter('idle_total', { description: 'd' });
  const { resourceMetrics } = await bound.collect();
  t.same(resourceMetrics.scopeMetrics, []);
});
