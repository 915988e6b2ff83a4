import type { AdapterCommand, DatabaseAdapter, Row, TransactionContext, TransactionOptions } from './adapters/database-adapter.js';
import type { DatabaseMetrics } from './adapters/database-metrics.js';
import type { HealthStatus } from './adapters/health-status.js';
import type { DatabaseConfig } from './config/database-config.js';
import { ContextHolder, DatakeepContext, type DataManagerOptions } from './datakeep-context.js';
import { MetricsRegistry } from './metrics/metrics-registry.js';
import { Monitoring } from './monitoring/monitoring.js';
import type { SystemValidation } from './monitoring/system-validation.js';
import type { StateStore } from './state/state-store.js';
import { MigrationManager } from './migrations/migration-manager.js';
import { BackupManager, type CreateBackupResult, type RestoreOptions } from './backup/backup-manager.js';
import type { BackupConfig } from './backup/backup-config.js';
import type { MigrateResult, MigrationsConfig, RollbackResult } from './migrations/migration-types.js';
import { TransactionManager } from './transactions/transaction-manager.js';
import { LifecycleManager } from './lifecycle/lifecycle-manager.js';
import type { DataLifecycleConfig } from './config/lifecycle-config.js';
import type { Logger } from './util/logger.js';
import { ReplicationManager } from './replication/replication-manager.js';
import type { ReplicationConfig } from './replication/replication-types.js';
import type { JobScheduler } from './scheduler/job-scheduler.js';
import { CacheManager } from './cache/cache-manager.js';
import type { InvalidatingContext } from './transactions/commit-invalidations.js';

/**
 * The seed's facade. Every method delegates to a subsystem; none does work of its own. Methods are `async` so that a
 * misuse (before initialize, unknown id) is a rejected promise, never a synchronous throw.
 *
 * ```ts
 * const dm = new DataManager();
 * await dm.initialize([{ type: 'postgresql', host: 'localhost', port: 5432, database: 'app_db', username: 'user', password: 'pass' }]);
 * const users = await dm.query('SELECT * FROM users WHERE active = ?', [true]);
 * await dm.close();
 * ```
 */
export class DataManager {
  readonly #holder = new ContextHolder();
  readonly #options: DataManagerOptions;
  /** This DataManager's Prometheus metrics: a registry of its own, never prom-client's global one. */
  readonly #metrics = new MetricsRegistry();
  readonly transactions = new TransactionManager(() => this.#holder.get(), this.#metrics);
  readonly replication: ReplicationManager = new ReplicationManager(() => this.#holder.peek(), () => this.#holder.peek()?.config ?? DatakeepContext.configuration(this.#options), this.#metrics, () => this.#logger());
  readonly monitoring = new Monitoring(
    () => this.#holder.get().registry,
    [
      { name: 'migrations', checks: () => this.migrations.validationChecks() },
      { name: 'backups', checks: () => this.backups.validationChecks() },
      { name: 'transactions', checks: () => this.transactions.validationChecks() },
      { name: 'lifecycle', checks: () => this.lifecycle.validationChecks() },
      { name: 'replication', checks: () => this.replication.validationChecks() },
    ],
    this.#metrics,
    [(statuses) => this.replication.decorateHealth(statuses)],
    () => this.#holder.peek(),
  );
  readonly migrations = new MigrationManager(() => this.#holder.get());
  readonly lifecycle = new LifecycleManager(() => this.#holder.get(), () => this.#holder.peek()?.config ?? DatakeepContext.configuration(this.#options), this.#metrics);
  /** The cache: memory + Redis tiers, invalidation tied to commits (`tx.invalidate`); see docs/cache.md. */
  readonly cache = new CacheManager(() => this.#holder.get(), this.#metrics);
  readonly backups = new BackupManager(() => this.#holder.get(), () => this.#holder.peek()?.config ?? DatakeepContext.configuration(this.#options), () => this.#logger(), this.#metrics);
  #standaloneLogger: Logger | undefined;

  constructor(options: DataManagerOptions = {}) {
    this.#options = options;
    this.transactions.useInvalidator(this.cache);
  }

  /**
   * Connects every configured database. With no argument the configuration comes from the constructor options, the
   * config file or the environment, and with nothing configured the embedded PGlite database is used.
   * If any database cannot be reached, the ones already opened are closed again and the error is thrown.
   */
  initialize(configs?: readonly (DatabaseConfig | string)[]): Promise<void> {
    return this.#holder.initialize(() => DatakeepContext.open(configs, this.#options, this.#metrics));
  }

  /** Rows of a statement on the default SQL database; `?` placeholders. */
  async query<T extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<T[]> {
    return this.#holder.get().registry.defaultSql().query<T>(sql, params);
  }

  /** Rows affected by a statement on the default SQL database. */
  async execute(sql: string, params?: readonly unknown[]): Promise<number> {
    return this.#holder.get().registry.defaultSql().execute(sql, params);
  }

  /** A command in the addressed database's native form (SQL, a Redis command line, a MongoDB JSON command). */
  async queryDatabase(adapterId: string, command: AdapterCommand, params?: readonly unknown[]): Promise<unknown> {
    return this.#holder.get().registry.get(adapterId).command(command, params);
  }

  /** A transaction on the default SQL database; `dm.query` inside the callback joins it; `tx.invalidate` runs after the commit. */
  async transaction<T>(fn: (tx: InvalidatingContext) => Promise<T>, options?: TransactionOptions): Promise<T> {
    return this.transactions.run(this.#holder.get().registry.defaultSql().id, fn as (tx: TransactionContext) => Promise<T>, options);
  }

  /** The adapter with this id (the routing rules and errors of queryDatabase apply). */
  database(adapterId: string): DatabaseAdapter {
    return this.#holder.get().registry.get(adapterId);
  }

  get databaseIds(): string[] {
    return this.#holder.get().registry.ids;
  }

  /** The seed's `initializeMigrations({directory, tableName, validateChecksums})`. */
  async initializeMigrations(config: MigrationsConfig): Promise<void> {
    return this.migrations.initialize(config);
  }

  /** Applies pending migrations; `result.migrationsExecuted` lists what ran. */
  async migrate(): Promise<MigrateResult> {
    return this.migrations.migrate();
  }

  /** Reverts every applied migration newer than `version` (which stays applied), newest first. */
  async rollback(version: string): Promise<RollbackResult> {
    return this.migrations.rollback(version);
  }

  /** The seed's `createBackup(config)`: a backup of every database that has a backup driver, then retention. */
  async createBackup(config: BackupConfig): Promise<CreateBackupResult> {
    return this.backups.createBackup(config);
  }

  /** The seed's `setupBackups({...config, schedule})`: scheduled backups, recorded in the state store. */
  async setupBackups(config: BackupConfig): Promise<{ name: string; nextRun: Date | null }> {
    return this.backups.setupBackups(config);
  }

  /** The seed's `restoreBackup(backupId)`, with optional point-in-time targets; never over a running cluster. */
  async restoreBackup(backupId?: string, options?: RestoreOptions): Promise<Awaited<ReturnType<BackupManager['restoreBackup']>>> {
    return this.backups.restoreBackup(backupId, options);
  }

  /** The seed's `setupLifecycleManagement({retention, archival, cleanup})`: checked against the databases, then scheduled. */
  async setupLifecycleManagement(config: DataLifecycleConfig): Promise<Awaited<ReturnType<LifecycleManager['setupLifecycleManagement']>>> {
    return this.lifecycle.setupLifecycleManagement(config);
  }

  /** The seed's `setupReplication({enabled, mode, replicas, failoverTimeout})`; see docs/replication.md. */
  async setupReplication(config: ReplicationConfig): Promise<Awaited<ReturnType<ReplicationManager['setupReplication']>>> {
    return this.replication.setupReplication(config);
  }

  /** The seed's `failover('replica1.example.com:5432')`: promotes that member (a switchover when the primary is up). */
  async failover(target?: string, options?: { force?: boolean; dryRun?: boolean }): Promise<Awaited<ReturnType<ReplicationManager['failover']>>> {
    return this.replication.failover(target, options);
  }

  async getHealthStatus(): Promise<Map<string, HealthStatus>> {
    return this.monitoring.health();
  }

  async getMetrics(): Promise<Map<string, DatabaseMetrics>> {
    return this.monitoring.metrics();
  }

  /** Every check (config, connectivity, state store, migrations, backups, WAL, drills, transactions, lifecycle, replication). */
  async validateSystem(): Promise<SystemValidation> {
    return this.monitoring.validate();
  }

  /** The cron scheduler: the schedules this DataManager runs and their recorded runs (the service lists them). */
  scheduler(): JobScheduler {
    return this.#holder.get().scheduler();
  }

  /** The state store (opened on first use). */
  async state(): Promise<StateStore> {
    return this.#holder.get().state();
  }

  /** The context's logger; before initialize (commands that read only a backup repository) one made the same way. */
  #logger(): Logger {
    const context = this.#holder.peek();
    if (context) return context.logger;
    this.#standaloneLogger ??= DatakeepContext.logger(this.#options, DatakeepContext.configuration(this.#options).logLevel);
    return this.#standaloneLogger;
  }

  /** Closes every connection and the state store. Idempotent. */
  close(): Promise<void> {
    return this.transactions.close().then(() => this.cache.close()).then(() => this.replication.stop()).then(() => this.backups.close()).then(() => this.#holder.close());
  }
}
