/** Counters and gauges of one adapter since it connected. Shape used by `DataManager.getMetrics()`. */
export interface LatencySummary {
  /** Milliseconds over the most recent samples (a bounded window), 0 when there are none. */
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly samples: number;
}

export interface DatabaseMetrics {
  readonly adapterId: string;
  readonly type: string;
  readonly queries: { readonly total: number; readonly failed: number; readonly latency: LatencySummary };
  readonly transactions: { readonly committed: number; readonly rolledBack: number; readonly retried: number };
  readonly connections: {
    readonly active: number;
    readonly idle: number;
    readonly waiting: number;
    readonly total: number;
    readonly max: number;
    readonly failedAttempts: number;
  };
  readonly circuit: { readonly state: 'closed' | 'open' | 'half-open'; readonly opened: number };
  /** The server the adapter's connections go to now (changes when a replicated adapter is routed to another node). */
  readonly endpoint?: string;
}
