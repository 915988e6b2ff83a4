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
  readonly transactions = new TransactionManager(() => this.#holder.get());
  readonly monitoring = new Monitoring(() => this.#holder.get().registry, [() => this.transactions.validate(), () => this.lifecycle.validate()], this.#metrics);
  readonly migrations = new MigrationManager(() => this.#holder.get());
  readonly lifecycle = new LifecycleManager(() => this.#holder.get(), () => this.#holder.peek()?.config ?? DatakeepContext.configuration(this.#options));
  readonly backups = new BackupManager(() => this.#holder.get(), () => this.#holder.peek()?.config ?? DatakeepContext.configuration(this.#options), () => this.#logger());
  #standaloneLogger: Logger | undefined;

  constructor(options: DataManagerOptions = {}) {
    this.#options = options;
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

  /** A transaction on the default SQL database; `dm.query` inside the callback joins it. */
  async transaction<T>(fn: (tx: TransactionContext) => Promise<T>, options?: TransactionOptions): Promise<T> {
    return this.#holder.get().registry.defaultSql().transaction(fn, options);
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

  async getHealthStatus(): Promise<Map<string, HealthStatus>> {
    return this.monitoring.health();
  }

  async getMetrics(): Promise<Map<string, DatabaseMetrics>> {
    return this.monitoring.metrics();
  }

  async validateSystem(): Promise<SystemValidation> {
    return this.monitoring.validate();
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
    return this.transactions.close().then(() => this.#holder.close());
  }
}
