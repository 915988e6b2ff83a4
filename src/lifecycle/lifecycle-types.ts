/** How a lifecycle run ended. */
export type LifecycleOutcome =
  /** Every matching row is gone (or archived and gone). */
  | 'done'
  /** The maintenance window closed; the next run continues where this one stopped. */
  | 'window-end'
  /** A batch could not get its locks within lockTimeout after several tries; nothing of that batch was removed. */
  | 'contended'
  /** Stopped by the caller (Ctrl-C, shutdown). */
  | 'stopped'
  | 'failed';

/** What one run of one policy did (recorded in the state store, printed by `datakeep lifecycle run|history`). */
export interface LifecycleRunResult {
  readonly policy: string;
  readonly database: string;
  readonly dryRun: boolean;
  readonly outcome: LifecycleOutcome;
  readonly rowsDeleted: number;
  readonly rowsArchived: number;
  readonly archives: readonly string[];
  readonly partitionsDropped: readonly string[];
  readonly batches: number;
  readonly durationMs: number;
  /** The longest a delete statement of this run took, including any wait for locks (an upper bound of the wait). */
  readonly longestLockWaitMs: number;
  /** Time spent waiting for replicas to catch up. */
  readonly lagWaitMs: number;
  /** Work a killed run had left and this run finished first (archived rows deleted, detached partitions dropped). */
  readonly recovered: number;
  readonly error: string | undefined;
}

/** What a policy would do now (the dry run, `datakeep lifecycle plan`). */
export interface LifecyclePlanEntry {
  readonly policy: string;
  readonly database: string;
  readonly target: string;
  readonly action: 'delete' | 'archive';
  /** Rows that match now, of the target's total. */
  readonly rows: number;
  readonly total: number;
  readonly firstKey: readonly unknown[] | undefined;
  readonly lastKey: readonly unknown[] | undefined;
  /** Whole partitions that would be dropped (or archived, then dropped). */
  readonly partitions: readonly string[];
  readonly schedule: string;
  readonly timeZone: string;
  readonly nextRun: string | undefined;
  /** Why the policy would refuse to run, when it would (it would remove every row and allowAll is not set). */
  readonly refusal: string | undefined;
}

/** Progress of a running policy, reported at least once per batch. */
export interface LifecycleProgress {
  readonly policy: string;
  readonly phase: 'inspecting' | 'recovering' | 'partitions' | 'batches' | 'waiting-for-replicas' | 'done';
  readonly rowsDone: number;
  /** Matching rows when the run started (rows added meanwhile may make the run do more). */
  readonly rowsTotal: number;
  readonly rowsPerSecond: number;
  readonly etaSeconds: number | undefined;
}
