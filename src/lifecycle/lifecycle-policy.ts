/** A maintenance window: the policy runs only between `start` and `end` (local times in the policy's time zone). */
export interface MaintenanceWindow {
  /** "HH:MM", 24-hour clock. */
  readonly start: string;
  /** "HH:MM"; earlier than `start` means the window crosses midnight. */
  readonly end: string;
}

/**
 * One resolved lifecycle policy: what goes (a table's, collection's or key pattern's rows older than an age, or
 * matching a condition), what happens to it (deleted, or archived and then deleted), how fast, and when.
 * Built from the seed's `DataLifecycleConfig` by `resolveLifecycleConfig`.
 */
export interface LifecyclePolicy {
  /** Unique within the configuration: `retention:audit_logs`, `archival:old_transactions`, or the given `name`. */
  readonly name: string;
  readonly kind: 'retention' | 'archival' | 'cleanup';
  /** The database id (default: the default SQL database for tables, the only Redis/MongoDB database otherwise). */
  readonly database: string | undefined;
  readonly table: string | undefined;
  readonly collection: string | undefined;
  readonly keyPattern: string | undefined;
  /** Rows whose `column` is older than `days` days (at the run's start) match. */
  readonly age: { readonly column: string; readonly days: number } | undefined;
  /** A condition in the engine's language: SQL for tables, a JSON filter for collections. ANDed with `age`. */
  readonly where: string | undefined;
  /** Redis only: keys idle for at least this long (OBJECT IDLETIME) match. */
  readonly idleSeconds: number | undefined;
  readonly action: 'delete' | 'archive';
  readonly batchSize: number;
  /** Pause between batches; the pacing lengthens it while the server is slow or replicas lag. */
  readonly pauseMs: number;
  /** The most one batch may wait for a lock before it gives up (and retries later). */
  readonly lockTimeoutMs: number;
  /** Batches wait while any replica lags more than this. */
  readonly maxReplicaLagSeconds: number;
  readonly schedule: string;
  readonly timeZone: string;
  readonly window: MaintenanceWindow | undefined;
  /** Whether whole expired partitions are detached and dropped (PostgreSQL declarative partitioning). */
  readonly partitions: boolean;
  /** A policy that would remove every row is refused unless this is true. */
  readonly allowAll: boolean;
  /** Lower runs first when several policies are due (the seed's archival `priority`). */
  readonly priority: number;
  /** Archives go to this repository root (`DESTINATION/<database id>`); required for `action: 'archive'`. */
  readonly archiveDestination: string | undefined;
}
