export { DataManager } from './data-manager.js';
export type { DataManagerOptions } from './datakeep-context.js';
export type { DatabaseConfig, DatabaseType, TlsConfig, ResolvedDatabaseConfig } from './config/database-config.js';
export type { DatakeepConfig, StateConfig } from './config/datakeep-config.js';
export { loadConfig } from './config/load-config.js';
export type {
  DatabaseAdapter,
  SqlDatabaseAdapter,
  DedicatedSession,
  AdapterCommand,
  Row,
  TransactionContext,
  TransactionOptions,
} from './adapters/database-adapter.js';
export type { AdapterCapabilities, IsolationLevel, TwoPhaseKind } from './adapters/capabilities.js';
export type { HealthStatus, HealthState } from './adapters/health-status.js';
export type { DatabaseMetrics, LatencySummary } from './adapters/database-metrics.js';
export type { SystemValidation } from './monitoring/system-validation.js';
export type { CheckProvider, CheckStatus, SystemCheck } from './monitoring/system-check.js';
export type { StateStore, AuditEntry, AuditRecord } from './state/state-store.js';
export type { Logger, LogLevel } from './util/logger.js';
export * from './errors/index.js';
export type {
  MigrationsConfig,
  MigrateResult,
  RollbackResult,
  ExecutedMigration,
  MigrationContext,
  MigrationModule,
  MigrationStatusEntry,
  ValidationReport,
  ValidationIssue,
  PlannedMigration,
  HistoryRecord,
  MigrationStatus,
  MigrationKind,
} from './migrations/migration-types.js';
export type { MigrationManager, MigrateOptions } from './migrations/migration-manager.js';
export type { MigrationEvent, MigrationProgress } from './migrations/migration-events.js';
export type { TransactionManager } from './transactions/transaction-manager.js';
export { DistributedTransactionError } from './transactions/distributed-transaction-error.js';
export type {
  DistributedContext,
  DistributedOptions,
  DistributedOutcome,
  DistributedResult,
  LocalTransactionOptions,
  ParticipantRecord,
  PreparedBranch,
  RecoveryReport,
  ResolveResult,
  TransactionManagerOptions,
  TransactionMetrics,
  TransactionStep,
  TransactionView,
  Decision,
} from './transactions/transaction-types.js';
export type { BackupConfig } from './backup/backup-config.js';
export type { BackupManager, CreateBackupResult, DatabaseBackupResult, ExpireResult, RestoreOptions, RestoreResult, BackupRunOptions, BackupVerifyResult } from './backup/backup-manager.js';
export type { DrillOptions, DrillReport } from './backup/run-drill.js';
export type { DrillChecks, DrillRunResult } from './engines/postgres/backup/drill-postgres.js';
export type { RecoverabilityWindow } from './engines/postgres/backup/recoverability-window.js';
export type { MetricSample } from './backup/window-metrics.js';
export { parseRecoveryTime, type RecoveryInstant } from './config/recovery-time.js';
export { PostgresBackupError, type PostgresBackupErrorReason } from './engines/postgres/backup/postgres-backup-error.js';
export type { RetentionPolicy } from './backup/retention-policy.js';
export type { BackupManifest, BackupSummary, VerifyReport, PruneResult } from './repository/repository-types.js';
export type { JobScheduler, JobRunRecord } from './scheduler/job-scheduler.js';
export type { LifecycleManager, LifecycleRunOptions } from './lifecycle/lifecycle-manager.js';
export type { DataLifecycleConfig, RetentionPolicyConfig, ArchivalPolicyConfig, CleanupPolicyConfig } from './config/lifecycle-config.js';
export type { LifecycleRunResult, LifecyclePlanEntry, LifecycleProgress, LifecycleOutcome } from './lifecycle/lifecycle-types.js';
export type { LifecyclePolicy, MaintenanceWindow } from './lifecycle/lifecycle-policy.js';
export type { ArchiveSummary } from './lifecycle/archive-store.js';
export type { ReplicationManager, ReplicationStatus, SetupReplicationResult } from './replication/replication-manager.js';
export type { ReplicationConfig, ReplicaConfig, EtcdAuthorityConfig, ReadPreference } from './replication/replication-types.js';
export type { FailoverResult } from './replication/run-failover.js';
export type { ReplicationEvent } from './replication/replicated-cluster.js';
export type { NodeStatus, ReplicaLag, ReplicationDriver, ReplicationNode, SyncSettings } from './replication/replication-part.js';
export type { CacheManager, CacheCallOptions, CacheStats } from './cache/cache-manager.js';
export type { CacheSection } from './config/cache-schema.js';
export type { InvalidationTarget, InvalidatingContext, Invalidating } from './transactions/commit-invalidations.js';
export type { CachePart, SharedCacheStore, SharedRead, InvalidationMessage } from './cache/cache-part.js';
