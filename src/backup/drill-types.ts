// What a restore drill checks and what one run of it found, whatever the engine.

/** What a restore drill checks on the restored, promoted server. */
export interface DrillChecks {
  /** How many of the largest tables to count rows of (default 5). */
  tables?: number;
  /** A query whose first row's first column must be true (a boolean), e.g. `SELECT count(*) > 0 FROM orders`. */
  sql?: string;
}

export interface DrillRunResult {
  readonly kind: 'latest' | 'point-in-time';
  /** The target of a point-in-time run (ISO 8601 UTC). */
  readonly target: string | undefined;
  readonly backupId: string | undefined;
  readonly ok: boolean;
  readonly durationMs: number;
  /** Row counts of the largest tables, largest first. */
  readonly tables: readonly { readonly name: string; readonly rows: number }[];
  readonly check: { readonly sql: string; readonly ok: boolean; readonly value: unknown } | undefined;
  readonly error: string | undefined;
}

