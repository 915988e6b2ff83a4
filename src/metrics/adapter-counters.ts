import { LatencyWindow } from './latency-window.js';

/** The mutable counters behind `DatabaseMetrics`, shared by every adapter implementation. */
export class AdapterCounters {
  queriesTotal = 0;
  queriesFailed = 0;
  committed = 0;
  rolledBack = 0;
  retried = 0;
  failedConnectAttempts = 0;
  readonly latency = new LatencyWindow();

  recordQuery(startedAt: number, failed: boolean): void {
    this.queriesTotal += 1;
    if (failed) this.queriesFailed += 1;
    this.latency.record(performance.now() - startedAt);
  }
}
