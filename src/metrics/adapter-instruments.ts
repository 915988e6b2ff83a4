import { DurationBuckets } from './duration-buckets.js';
import { LatencyWindow } from './latency-window.js';

/**
 * The instruments of one adapter: what both `DatabaseMetrics` (getMetrics) and the Prometheus exposition
 * (MetricsRegistry) read. Plain fields, because operations are recorded on the hot path.
 */
export class AdapterInstruments {
  /** Every operation, timed or not, failed or not. */
  operations = 0;
  committed = 0;
  rolledBack = 0;
  retried = 0;
  failedConnectAttempts = 0;
  /** Operation durations for the histogram. */
  readonly durations = new DurationBuckets();
  /** The most recent durations, for percentiles (a histogram's buckets are too coarse for p50 of a 0.3 ms query). */
  readonly latency = new LatencyWindow();
  readonly #errors = new Map<string, number>();

  /** One operation that took `ms`. */
  record(ms: number): void {
    this.operations += 1;
    this.observe(ms);
  }

  /** A duration for an operation already counted in `operations`. */
  observe(ms: number): void {
    this.latency.record(ms);
    this.durations.observe(ms);
  }

  /** `count` operations failed with the datakeep error code `code`. */
  recordError(code: string, count = 1): void {
    this.#errors.set(code, (this.#errors.get(code) ?? 0) + count);
  }

  /** Failed operations by error code. */
  get errors(): ReadonlyMap<string, number> {
    return this.#errors;
  }

  get queriesTotal(): number {
    return this.operations;
  }

  get queriesFailed(): number {
    let failed = 0;
    for (const n of this.#errors.values()) failed += n;
    return failed;
  }
}
