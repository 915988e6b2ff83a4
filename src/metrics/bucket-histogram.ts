import { Histogram } from 'prom-client';
import { DB_OPERATION_BUCKETS_SECONDS } from './duration-buckets.js';
import type { MetricsSource } from './metrics-source.js';

type Label = 'database_id' | 'engine';
type HistogramData = Awaited<ReturnType<Histogram<Label | 'le'>['get']>>;

/**
 * `datakeep_db_client_operation_duration_seconds`: a prom-client Histogram whose series are read, when scraped, from
 * the adapters' DurationBuckets instead of being fed by `observe` on every statement (see DurationBuckets for why).
 * The registry formats it like any histogram: cumulative `_bucket{le}`, `_sum`, `_count`.
 */
export class BucketHistogram extends Histogram<Label> {
  static readonly NAME = 'datakeep_db_client_operation_duration_seconds';
  static readonly HELP = 'Duration of database client operations (statements, commands), in seconds';

  constructor(private readonly sources: () => Iterable<MetricsSource>) {
    super({ name: BucketHistogram.NAME, help: BucketHistogram.HELP, labelNames: ['database_id', 'engine'], buckets: [...DB_OPERATION_BUCKETS_SECONDS], registers: [] });
  }

  override async get(): Promise<HistogramData> {
    return this.getForPromString();
  }

  /** What prom-client's Registry asks a metric for when it writes the text format. */
  async getForPromString(): Promise<HistogramData> {
    const values: HistogramData['values'] = [];
    for (const source of this.sources()) {
      const labels = { database_id: source.databaseId, engine: source.engine };
      const histogram = source.instruments.durations.export(source.instruments.operations);
      for (const bucket of histogram.buckets) values.push({ metricName: `${BucketHistogram.NAME}_bucket`, labels: { ...labels, le: bucket.le }, value: bucket.count });
      values.push({ metricName: `${BucketHistogram.NAME}_bucket`, labels: { ...labels, le: '+Inf' }, value: histogram.count });
      values.push({ metricName: `${BucketHistogram.NAME}_sum`, labels, value: histogram.sumSeconds });
      values.push({ metricName: `${BucketHistogram.NAME}_count`, labels, value: histogram.count });
    }
    return { name: BucketHistogram.NAME, help: BucketHistogram.HELP, type: 'histogram', aggregator: 'sum', values } as unknown as HistogramData;
  }
}
