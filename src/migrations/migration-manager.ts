import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DatabaseAdapter } from '../adapters/database-adapter.js';
import { migrationsConfigSchema } from '../config/migrations-schema.js';
import { parseConfig } from '../config/parse-config.js';
import type { DatakeepContext } from '../datakeep-context.js';
import { ConfigurationError, LifecycleError, MigrationError, UsageError } from '../errors/index.js';
import { defaultActor } from '../state/state-store.js';
import { DATAKEEP_VERSION } from '../util/datakeep-version.js';
import { audited } from '../state/audited.js';
import { logOperation } from '../util/log-operation.js';
import { analyseMigrations, statusEntries } from './analyse-migrations.js';
import { compareVersions, discoverMigrations } from './discover-migrations.js';
import { lintMigrationSql } from './lint-migration-sql.js';
import type { LockHolder } from '../locks/exclusive-lock.js';
import type { MigrationProgress } from './migration-events.js';
import { migrateTarget, rollbackPlan, rollbackTarget, withMigrationLock, type RunOptions } from './migration-runner.js';
import { createMigrationTarget, type MigrationTarget, type TargetOptions } from './migration-target.js';
import { moduleTemplate, sqlTemplate } from './migration-templates.js';
import { systemCheck, type SystemCheck } from '../monitoring/system-check.js';
import { migrationChecks } from './migration-checks.js';
import type { MigrateResult, MigrationStatusEntry, MigrationsConfig, PlannedMigration, RollbackResult, ValidationReport } from './migration-types.js';

type ResolvedMigrationsConfig = Required<MigrationsConfig>;

export interface MigrateOptions {
  /** Only this database. */
  db?: string;
  allowOutOfOrder?: boolean;
  onProgress?: MigrationProgress;
}

/**
 * `dm.migrations`: versioned, checksummed, locked, reversible migrations for every configured database. Files in the
 * directory target the default SQL database; files in a subdirectory named after a database id target that one.
 */
export class MigrationManager {
  #config: ResolvedMigrationsConfig | undefined;

  constructor(private readonly context: () => DatakeepContext) {}

  /** The seed's `initializeMigrations`: validates the configuration; nothing touches a database yet. */
  async initialize(config: MigrationsConfig): Promise<void> {
    this.#config = Object.freeze(parseConfig(migrationsConfigSchema, config, 'migrations'));
  }

  get config(): Readonly<ResolvedMigrationsConfig> {
    if (!this.#config) throw new LifecycleError('call initializeMigrations({directory, ...}) first');
    return this.#config;
  }

  /** The databases with migrations, each with its files (re-read on every call, so fixes are picked up). */
  targets(db?: string, config: Readonly<ResolvedMigrationsConfig> = this.config): MigrationTarget[] {
    const registry = this.context().registry;
    const found = discoverMigrations(config.directory);
    const targets: MigrationTarget[] = [];
    const options: TargetOptions = { tableName: config.tableName, lockMode: config.lockMode, leaseTtl: config.leaseTtl };
    if (found.files.length > 0) {
      let defaultSql: DatabaseAdapter;
      try {
        defaultSql = registry.defaultSql();
      } catch {
        throw new ConfigurationError('migrations.directory', `has migration files at its top level (${found.files[0]!.path}), which target the default SQL database, but no SQL database is configured`, `Move them into a subdirectory named after the database they target (${registry.ids.join(', ')})`);
      }
      targets.push(createMigrationTarget(defaultSql, found.files, options));
    }
    for (const [name, files] of found.subdirectories) {
      let adapter: DatabaseAdapter;
      try {
        adapter = registry.get(name);
      } catch {
        throw new ConfigurationError(`migrations.directory/${name}`, `is a subdirectory, but no database has the id "${name}"`, `Name it after a database id (${registry.ids.join(', ')}), or move it out of ${config.directory}`);
      }
      const existing = targets.find((t) => t.database === adapter.id);
      if (existing) {
        throw new ConfigurationError(`migrations.directory/${name}`, `targets ${adapter.id}, which the files at the top of the directory already target`, 'Keep the default database\'s migrations in one place');
      }
      targets.push(createMigrationTarget(adapter, files, options));
    }
    if (db !== undefined) {
      registry.get(db);
      return targets.filter((t) => t.database === db);
    }
    return targets;
  }

  private runOptions(options: MigrateOptions = {}): RunOptions {
    const config = this.config;
    return {
      validateChecksums: config.validateChecksums,
      allowOutOfOrder: options.allowOutOfOrder ?? config.allowOutOfOrder,
      lockTimeout: config.lockTimeout,
      progress: options.onProgress ?? (() => undefined),
      logger: this.context().logger,
    };
  }

  /** Applies every pending migration, database by database; stops at the first failure. */
  async migrate(options: MigrateOptions = {}): Promise<MigrateResult> {
    return audited(() => this.context().state(), { action: 'migrate.apply', target: options.db ?? 'all', details: { db: options.db, allowOutOfOrder: options.allowOutOfOrder } }, () => this.#migrate(options), {
      result: (r) => ({ executed: r.migrationsExecuted.map((m) => `${m.version}_${m.name}`) }),
    });
  }

  async #migrate(options: MigrateOptions): Promise<MigrateResult> {
    const migrationsExecuted: MigrateResult['migrationsExecuted'] = [];
    const alreadyApplied: Record<string, number> = {};
    const warnings: string[] = [];
    for (const target of this.targets(options.db)) {
      const { executed, analysis } = await logOperation(this.context().logger, 'migration.run', { database: target.database }, () => migrateTarget(target, this.runOptions(options)), {
        result: (r) => ({ executed: r.executed.map((m) => m.version), alreadyApplied: r.analysis.appliedCount }),
      });
      alreadyApplied[target.database] = analysis.appliedCount;
      migrationsExecuted.push(...executed);
      for (const file of analysis.pending) if (file.up) warnings.push(...lintMigrationSql(file.up.sql).warnings.map((w) => `${target.database} ${file.version}_${file.name}: ${w}`));
    }
    return { migrationsExecuted, alreadyApplied, warnings };
  }

  /** The seed's `rollback(version)`: reverts, newest first, every applied migration after `version`, which stays applied. */
  async rollback(version: string, options: MigrateOptions = {}): Promise<RollbackResult> {
    return audited(() => this.context().state(), { action: 'migrate.rollback', target: options.db ?? 'all', details: { to: version } }, () => this.#rollback(version, options), {
      result: (r) => ({ rolledBack: r.migrationsRolledBack.map((m) => `${m.version}_${m.name}`) }),
    });
  }

  async #rollback(version: string, options: MigrateOptions): Promise<RollbackResult> {
    if (typeof version !== 'string') throw new UsageError('version', 'expected a version string such as "20240101000000" (or "0" to revert everything)');
    const targets = this.targets(options.db);
    // Every database's plan is checked before any database is touched.
    for (const target of targets) rollbackPlan(target, analyseMigrations(target.database, target.files, await target.history.records()), version);
    const migrationsRolledBack: RollbackResult['migrationsRolledBack'] = [];
    for (const target of targets) {
      migrationsRolledBack.push(...(await logOperation(this.context().logger, 'migration.rollback', { database: target.database, to: version }, () => rollbackTarget(target, version, this.runOptions(options)), {
        result: (done) => ({ rolledBack: done.map((m) => m.version) }),
      })));
    }
    return { migrationsRolledBack };
  }

  async status(options: { db?: string } = {}): Promise<MigrationStatusEntry[]> {
    const out: MigrationStatusEntry[] = [];
    for (const target of this.targets(options.db)) {
      out.push(...statusEntries(analyseMigrations(target.database, target.files, await target.history.records()), target.files));
    }
    return out;
  }

  /** Changed, missing, out-of-order (unknown to the database) and interrupted migrations, by name. */
  async validate(options: { db?: string } = {}): Promise<ValidationReport> {
    const issues: ValidationReport['issues'] = [];
    let checked = 0;
    for (const target of this.targets(options.db)) {
      const analysis = analyseMigrations(target.database, target.files, await target.history.records());
      checked += target.files.length;
      issues.push(...analysis.issues);
    }
    return { valid: issues.length === 0, issues, checked };
  }

  /**
   * validateSystem()'s `migrations:<database>` checks, with initializeMigrations' configuration or else the config
   * file's `migrations` section; skipped when neither names a directory.
   */
  async validationChecks(): Promise<SystemCheck[]> {
    const section = this.context().config.migrations;
    if (!this.#config && section?.directory === undefined) return [systemCheck('migrations', 'skipped', 'no migrations configured (initializeMigrations or a "migrations" section with a directory)')];
    let config: Readonly<ResolvedMigrationsConfig>;
    try {
      config = this.#config ?? parseConfig(migrationsConfigSchema, section, 'migrations');
    } catch (error) {
      return [systemCheck('migrations', 'error', (error as Error).message)];
    }
    return migrationChecks(this.targets(undefined, config), config);
  }

  /** What `migrate` (or, with `to`, `rollback(to)`) would run, with SQL text and lint warnings; runs nothing. */
  async plan(options: { db?: string; to?: string } = {}): Promise<PlannedMigration[]> {
    const out: PlannedMigration[] = [];
    for (const target of this.targets(options.db)) {
      const analysis = analyseMigrations(target.database, target.files, await target.history.records());
      const direction = options.to === undefined ? 'up' : 'down';
      const files = options.to === undefined ? [...analysis.pending, ...analysis.repeatable] : rollbackPlan(target, analysis, options.to);
      for (const file of files) {
        const part = direction === 'up' ? file.up : file.down;
        const lint = part ? lintMigrationSql(part.sql) : { warnings: [], cannotRunInTransaction: undefined };
        const warnings = [...lint.warnings];
        if (part?.transaction && lint.cannotRunInTransaction) warnings.push(`refused: ${lint.cannotRunInTransaction} cannot run in a transaction; mark the section transaction:false`);
        if (direction === 'up' && analysis.outOfOrder.some((o) => o.file === file)) warnings.push(`out of order: older than the newest applied ${analysis.newestApplied}`);
        out.push({ database: target.database, version: file.version, name: file.name, kind: file.kind, direction, transaction: part ? part.transaction : true, sql: part?.sql, warnings });
      }
    }
    return out;
  }

  /** Writes `VERSION_name.sql` (or `.ts`) with a UTC timestamp version; returns its path. */
  async create(name: string, options: { db?: string; format?: 'sql' | 'ts' } = {}): Promise<string> {
    if (typeof name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(name)) {
      throw new UsageError('NAME', `"${String(name)}" is not a migration name; use letters, digits, _ and -, e.g. create_users`);
    }
    const config = this.config;
    let dir = config.directory;
    let format = options.format;
    if (options.db !== undefined) {
      const registry = this.context().registry;
      const adapter = registry.get(options.db);
      const isDefault = (() => {
        try {
          return registry.defaultSql().id === adapter.id;
        } catch {
          return false;
        }
      })();
      if (!isDefault) dir = join(dir, adapter.id);
      format ??= adapter.capabilities.sql ? 'sql' : 'ts';
      if (format === 'sql' && !adapter.capabilities.sql) throw new UsageError('--format', `${adapter.id} is a ${adapter.type} database: its migrations are .ts or .js modules`);
    }
    mkdirSync(dir, { recursive: true });
    const version = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
    const path = join(dir, `${version}_${name}.${format ?? 'sql'}`);
    if (existsSync(path)) throw new UsageError('NAME', `${path} already exists; wait a second or choose another name`);
    writeFileSync(path, format === 'ts' ? moduleTemplate(name) : sqlTemplate(name), { flag: 'wx' });
    return path;
  }

  /** Marks an existing database as being at `version`: files up to it are treated as applied. Audited. */
  async baseline(version: string, options: { db?: string; dryRun?: boolean } = {}): Promise<{ database: string; version: string; dryRun: boolean }[]> {
    if (typeof version !== 'string' || !/^\d+$/.test(version)) throw new UsageError('VERSION', `"${String(version)}" is not a version; use digits, e.g. 20240101000000`);
    const out: { database: string; version: string; dryRun: boolean }[] = [];
    for (const target of this.targets(options.db)) {
      const dryRun = options.dryRun ?? false;
      if (!dryRun) {
        await withMigrationLock(target, this.runOptions(), async () => {
          const applied = (await target.history.records()).filter((r) => r.status === 'applied' && r.kind !== 'baseline');
          if (applied.length > 0) {
            throw new MigrationError('invalid-state', target.database, `already has ${applied.length} applied migration(s); baseline is for a database that was never migrated by datakeep`);
          }
          const now = new Date();
          await target.history.append({ version, name: 'baseline', kind: 'baseline', checksum: null, status: 'applied', startedAt: now, finishedAt: now, durationMs: 0, appliedBy: defaultActor(), datakeepVersion: DATAKEEP_VERSION, error: null });
        });
      }
      await this.audit('migrate.baseline', target.database, dryRun, { version });
      this.context().logger.log('info', 'migration baseline recorded', { operation: 'migration.baseline', database: target.database, version, dryRun });
      out.push({ database: target.database, version, dryRun });
    }
    return out;
  }

  /**
   * Resolves a failed or interrupted migration by recording it as `applied` (its effects are in place, e.g. fixed by
   * hand) or `rolled_back` (they are not), or accepts an edited file's new checksum (`as: 'applied'` on an applied
   * migration). Audited; with dryRun only says what it would record.
   */
  async repair(version: string, options: { as: 'applied' | 'rolled_back'; db?: string; dryRun?: boolean }): Promise<{ database: string; version: string; from: string; to: string; dryRun: boolean }[]> {
    if (options?.as !== 'applied' && options?.as !== 'rolled_back') throw new UsageError('as', 'must be "applied" or "rolled_back" (CLI: --applied or --rolled-back)');
    const out: { database: string; version: string; from: string; to: string; dryRun: boolean }[] = [];
    const targets = this.targets(options.db);
    let found = false;
    for (const target of targets) {
      const records = await target.history.records();
      const latest = [...records].reverse().find((r) => r.version === version);
      const file = target.files.find((f) => f.version === version);
      if (!latest && !file) continue;
      found = true;
      const from = latest ? latest.status : 'pending';
      const changedChecksum = latest?.status === 'applied' && file && latest.checksum !== file.checksum;
      if (latest?.status === options.as && !changedChecksum) {
        throw new MigrationError('invalid-state', target.database, `${version} is already ${options.as}; nothing to repair`, { version });
      }
      const dryRun = options.dryRun ?? false;
      if (!dryRun) {
        await withMigrationLock(target, this.runOptions(), async () => {
          const now = new Date();
          await target.history.append({
            version, name: file?.name ?? latest!.name, kind: file?.kind ?? latest!.kind, checksum: file?.checksum ?? latest?.checksum ?? null, status: options.as,
            startedAt: now, finishedAt: now, durationMs: 0, appliedBy: defaultActor(), datakeepVersion: DATAKEEP_VERSION, error: `repaired: was ${from}${changedChecksum ? ' (checksum accepted)' : ''}`,
          });
        });
      }
      await this.audit('migrate.repair', target.database, dryRun, { version, from, to: options.as });
      this.context().logger.log('info', 'migration repaired', { operation: 'migration.repair', database: target.database, version, from, to: options.as, dryRun });
      out.push({ database: target.database, version, from, to: options.as, dryRun });
    }
    if (!found) throw new MigrationError('unknown-version', options.db ?? 'migrations', `no migration has version ${version}`, { version });
    return out;
  }

  /** Who holds each database's migration lock. */
  async locks(options: { db?: string } = {}): Promise<{ database: string; kind: string; holder: LockHolder | undefined }[]> {
    return Promise.all(this.targets(options.db).map(async (t) => {
      const lock = t.lock();
      return { database: t.database, kind: lock.kind, holder: await lock.holder() };
    }));
  }

  /** Deletes a lease left behind (session locks cannot be stuck: they end with their session). Audited. */
  async releaseLock(options: { db?: string; dryRun?: boolean } = {}): Promise<{ database: string; kind: string; removed: LockHolder | undefined; dryRun: boolean }[]> {
    const out: { database: string; kind: string; removed: LockHolder | undefined; dryRun: boolean }[] = [];
    for (const target of this.targets(options.db)) {
      const lock = target.lock();
      const dryRun = options.dryRun ?? false;
      const removed = dryRun || !lock.leased ? await lock.holder() : await lock.forceRelease();
      await this.audit('migrate.release-lock', target.database, dryRun || !lock.leased, { kind: lock.kind, holder: removed?.description ?? null });
      this.context().logger.log('info', 'migration lock released', { operation: 'migration.release-lock', database: target.database, kind: lock.kind, holder: removed?.description ?? null, dryRun });
      out.push({ database: target.database, kind: lock.kind, removed, dryRun });
    }
    return out;
  }

  private async audit(action: string, target: string, dryRun: boolean, details: Record<string, unknown>): Promise<void> {
    const state = await this.context().state();
    await state.audit({ action, target, dryRun, details });
  }
}

export { compareVersions };
