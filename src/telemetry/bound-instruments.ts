import { ValueType, type Attributes, type HrTime } from '@opentelemetry/api';
import { millisToHrTime } from '@opentelemetry/core';
import { AggregationTemporality, DataPointType, type CollectionResult, type HistogramMetricData, type MetricData, type MetricProducer, type SumMetricData } from '@opentelemetry/sdk-metrics';
import type { Resource } from '@opentelemetry/resources';

/**
 * The instruments recorded on every exchange, kept as series bound to
 * their attribute set once. The SDK's instruments hash the attributes of
 * every record to find its series; a caller that already holds its series
 * (see http-metrics.ts) pays only for the sum or the bucket. They reach the
 * exporters as a metric producer, beside the SDK's own instruments, as
 * cumulative sums and explicit-bucket histograms.
 */
export class BoundInstruments implements MetricProducer {
  readonly #instruments: (BoundHistogram | BoundCounter)[] = [];
  readonly #startTime: HrTime = millisToHrTime(Date.now());

  constructor(private readonly resource: Resource) {}

  histogram(name: string, options: { description: string; unit: string; boundaries: readonly number[] }): BoundHistogram {
    const histogram = new BoundHistogram(name, options.description, options.unit, options.boundaries);
    this.#instruments.push(histogram);
    return histogram;
  }

  counter(name: string, options: { description: string }): BoundCounter {
    const counter = new BoundCounter(name, options.description, '');
    this.#instruments.push(counter);
    return counter;
  }

  async collect(): Promise<CollectionResult> {
    const endTime = millisToHrTime(Date.now());
    const metrics: MetricData[] = this.#instruments.filter((i) => i.hasSeries).map((i) => i.data(this.#startTime, endTime));
    return { resourceMetrics: { resource: this.resource, scopeMetrics: metrics.length ? [{ scope: { name: 'headroom' }, metrics }] : [] }, errors: [] };
  }
}

/** An instrument's series, one per distinct attribute set, made once and kept by the caller. */
abstract class BoundInstrument<S extends { readonly attributes: Attributes }> {
  protected readonly kept: S[] = [];

  constructor(
    readonly name: string,
    readonly description: string,
    readonly unit: string,
  ) {}

  protected abstract make(attributes: Attributes): S;

  /** A new series for `attributes`; the caller keeps it. */
  series(attributes: Attributes): S {
    const series = this.make(attributes);
    this.kept.push(series);
    return series;
  }

  get hasSeries(): boolean {
    return this.kept.length > 0;
  }

  protected descriptor(): MetricData['descriptor'] {
    return { name: this.name, description: this.description, unit: this.unit, valueType: ValueType.DOUBLE };
  }

  abstract data(startTime: HrTime, endTime: HrTime): MetricData;
}

export class BoundHistogram extends BoundInstrument<HistogramSeries> {
  constructor(name: string, description: string, unit: string, readonly boundaries: readonly number[]) {
    super(name, description, unit);
  }

  protected make(attributes: Attributes): HistogramSeries {
    return new HistogramSeries(attributes, this.boundaries);
  }

  data(startTime: HrTime, endTime: HrTime): HistogramMetricData {
    return {
      descriptor: this.descriptor(),
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.HISTOGRAM,
      dataPoints: this.kept.map((s) => ({
        attributes: s.attributes,
        startTime,
        endTime,
        value: { buckets: { boundaries: [...this.boundaries], counts: [...s.counts] }, count: s.count, sum: s.sum, min: s.min, max: s.max },
      })),
    };
  }
}

export class BoundCounter extends BoundInstrument<CounterSeries> {
  protected make(attributes: Attributes): CounterSeries {
    return new CounterSeries(attributes);
  }

  data(startTime: HrTime, endTime: HrTime): SumMetricData {
    return {
      descriptor: this.descriptor(),
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.SUM,
      isMonotonic: true,
      dataPoints: this.kept.map((s) => ({ attributes: s.attributes, startTime, endTime, value: s.value })),
    };
  }
}

export class CounterSeries {
  value = 0;

  constructor(readonly attributes: Attributes) {}

  add(n: number): void {
    this.value += n;
  }
}

export class HistogramSeries {
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;
  /** By bucket: values up to and including each boundary, then those above the last. */
  readonly counts: number[];

  constructor(
    readonly attributes: Attributes,
    private readonly boundaries: readonly number[],
  ) {
    this.counts = new Array<number>(boundaries.length + 1).fill(0);
  }

  record(value: number): void {
    const b = this.boundaries;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    this.counts[i]!++;
    this.count++;
    this.sum += value;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
  }
}
