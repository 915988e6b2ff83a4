import { join } from 'node:path';
import type { ResolvedDatakeepConfig } from '../config/datakeep-config.js';
import type { DatakeepContext } from '../datakeep-context.js';
import { findBackupSet, isSetId, newSetId, readBackupSets, writeBackupSet, type BackupSet, type BackupSetMember } from './backup-sets.js';
import { restoreBackupSet } from './restore-set.js';
import { enginesWith } from '../engines/engine-registry.js';
import { backupTargets, driverOfRepository } from './backup-drivers.js';
import { expireFields, expireRepository } from './expire-repository.js';
import { ConfigurationError, UsageError } from '../errors/index.js';
import type { BackupSummary, PruneResult } from '../repository/repository-types.js';
import type { JobScheduler } from '../scheduler/job-scheduler.js';
import { audited } from '../state/audited.js';
import { FallbackStateStore } from '../state/fallback-state-store.js';
import { logOperation, type OperationLogOptions } from '../util/log-operation.js';
import { silentLogger, type Logger } from '../util/logger.js';
import { resolveBackupConfig, type BackupConfig, type ResolvedBackupConfig } from './backup-config.js';
import type { BackupDriver } from './backup-driver.js';
import type {
  BackupRunOptions,
  BackupVerifyResult,
  CreateBackupResult,
  DatabaseBackupResult,
  ExpireResult,
  RecoverabilityWindow,
  RestoreOptions,
  RestoreResult,
} from './backup-types.js';
import { RepositorySet } from './repository-set.js';
import { describeRestoreTarget } from './describe-restore-target.js';
import type { MetricsRegistry } from '../metrics/metrics-registry.js';
import { systemCheck, type SystemCheck } from '../monitoring/system-check.js';
import { backupChecks } from './backup-checks.js';
import { backupFactTargets, readBackupFacts, type DatabaseBackupFacts } from './backup-facts.js';
import { BackupMetrics } from './backup-metrics.js';
import { LogCaptures } from './log-captures.js';
import type { RetentionPolicy } from './retention-policy.js';
import { runDrills, type DrillOptions, type DrillReport } from './run-drill.js';
import { windowMetrics, type MetricSample } from './window-metrics.js';

export type {
  BackupRunOptions,
  BackupVerifyResult,
  CreateBackupResult,
  DatabaseBackupResult,
  ExpireResult,
  RestoreOptions,
  RestoreResult,
} from './backup-types.js';

/**
 * `dm.backups`: backups of every database whose engine has a backup driver, into a repository per database; retention,
 * schedules, verification, restore drills and point-in-time restore. Orchestration only: the repositories are the
 * RepositorySet's, everything engine-specific is the engine's BackupDriver. Databases without a driver are reported
 * as skipped, never silently ignored.
 */
export class BackupManager {
  #lastConfig: ResolvedBackupConfig | undefined;
  /** Where audit entries go, also before initialize (list, verify and restore read only the repository). */
  readonly #state = new FallbackStateStore(() => {
    try {
      return this.context().state();
    } catch {
      return undefined;
    }
  }, () => this.configuration().state, () => this.#logger());
  readonly #repositories: RepositorySet;
  readonly #metrics: BackupMetrics;
  readonly captures: LogCaptures;

  /**
   * @param context the initialized DataManager's context (databases, state store, scheduler)
   * @param configuration the configuration alone: reading a repository (list, verify, window, restore) needs no
   *   database connection, and must work while the database it protects is down
   * @param logger the DataManager's logger, also before initialize (those repository-only commands log too)
   */
  constructor(
    private readonly context: () => DatakeepContext,
    private readonly configuration: () => ResolvedDatakeepConfig = () => context().config,
    private readonly logger: () => Logger = () => context().logger,
    metrics?: MetricsRegistry,
  ) {
    this.#metrics = new BackupMetrics(metrics?.registry, () => this.#facts({ window: true }));
    this.#repositories = new RepositorySet(() => {
      const configured = this.configuration().backups;
      return {
        destination: this.#lastConfig?.destination ?? (configured?.destination as string | undefined),
        passphraseFile: this.#lastConfig?.passphraseFile ?? (typeof configured?.passphraseFile === 'string' ? configured.passphraseFile : undefined),
        encryption: this.#lastConfig?.encryption ?? (configured?.encryption as boolean | undefined),
      };
    }, () => this.#logger());
    this.captures = new LogCaptures(context, this.#repositories, () => this.#logger(), metrics?.registry);
  }

  private scheduler(): JobScheduler {
    return this.context().scheduler();
  }

  /** The seed's `createBackup(config)`: backs up every configured database that has a backup driver. */
  async createBackup(input: BackupConfig, options: BackupRunOptions = {}): Promise<CreateBackupResult> {
    const run = () => this.#logged('backup.run', { destination: input?.destination }, () => this.#createBackup(input, options), {
      result: (r) => ({ backupId: r.backupId, databases: r.databases.map((d) => d.database), skipped: r.skipped.map((d) => d.database) }),
    });
    return this.#audited('backup.create', input?.destination, { config: input }, run, (r) => ({ backups: r.databases.map((d) => ({ database: d.database, backupId: d.backupId, type: d.type })) }));
  }

  async #createBackup(input: BackupConfig, options: BackupRunOptions): Promise<CreateBackupResult> {
    const config = resolveBackupConfig(input, 'createBackup(config)');
    this.#lastConfig = config;
    const passphrase = await this.#repositories.passphrase(config);
    const { targets, skipped } = backupTargets(this.context().registry, config.databases);
    if (targets.length === 0) {
      throw new ConfigurationError('databases', `none of the configured databases has a backup driver (${skipped.map((s) => `${s.database}: ${s.reason}`).join('; ')})`, `Configure a database of type ${enginesWith('backup').join(', ')} to back up`);
    }
    const started = new Date();
    const setId = newSetId(started);
    const engines = new Map<string, string>();
    const results: DatabaseBackupResult[] = [];
    const expired: ExpireResult[] = [];
    for (const { adapter, load } of targets) {
      options.signal?.throwIfAborted();
      const driver = await load();
      engines.set(adapter.id, driver.engine);
      const repositoryPath = join(config.destination, adapter.id);
      const source = await driver.prepare({ adapter, config: this.context().config.databases.find((d) => d.id === adapter.id)!, method: config.method });
      const repository = await this.#repositories.openOrInit(repositoryPath, passphrase, { workers: config.workers, compression: config.compression, owner: source.repositoryOwner });
      try {
        const summaries = (await repository.list()).filter((s) => s.database === adapter.id);
        // An incremental or differential without a full to build on becomes a full, as in pgBackRest (a logical full
        // is no base for them: the driver refuses those types with the logical method).
        const type = config.type !== 'full' && !summaries.some((s) => isFull(s) && s.metadata.method !== 'logical') && config.method !== 'logical' ? 'full' : config.type;
        const lock = await repository.lock('shared', 'backup');
        let result: DatabaseBackupResult;
        try {
          const made = await this.#logged('backup.create', { database: adapter.id, type, repository: repositoryPath }, () => source.backup(repository, { type, workers: config.workers, walTimeoutMs: config.walTimeoutMs, signal: options.signal, tables: config.tables, onProgress: (p) => options.onProgress?.(adapter.id, p) }), {
            result: (m) => ({ backupId: m.backupId, type: m.type, sizeBytes: m.sizeBytes, storedBytes: m.storedBytes }),
          });
          result = { ...made, database: adapter.id, requestedType: config.type, repository: repositoryPath };
        } catch (error) {
          this.#metrics.ended(adapter.id, adapter.type, false);
          throw error;
        } finally {
          await lock.release();
        }
        this.#metrics.ended(adapter.id, adapter.type, true);
        results.push(result);
        this.log('info', `backed up ${adapter.id}: ${result.type} ${result.backupId} (${result.storedBytes} bytes stored)`);
        expired.push(await this.#logged('backup.expire', { database: adapter.id }, () => expireRepository({ database: adapter.id, repository, driver, retention: config.retention, dryRun: false, prune: true, log: (l, m) => this.log(l, m), audit: (...a) => this.audit(...a) }), { result: expireFields }));
      } finally {
        await repository.close?.();
      }
    }
    const first = results[0]!;
    const finished = new Date();
    // Only now, with every member complete, does the run become a set (backup-sets.ts).
    await writeBackupSet(config.destination, {
      setId, startedAt: started.toISOString(), finishedAt: finished.toISOString(),
      members: results.map((r) => ({ database: r.database, engine: engines.get(r.database)!, backupId: r.backupId, type: r.type, consistentAt: r.consistentAt?.toISOString() })),
    });
    return {
      backupId: first.backupId, setId, type: first.type, startedAt: started, finishedAt: finished,
      sizeBytes: results.reduce((n, r) => n + r.sizeBytes, 0), storedBytes: results.reduce((n, r) => n + r.storedBytes, 0),
      databases: results, skipped, expired,
    };
  }

  /** The seed's `setupBackups({...config, schedule})`: a cron schedule whose runs are recorded in the state store. */
  async setupBackups(input: BackupConfig): Promise<{ name: string; nextRun: Date | null }> {
    const config = resolveBackupConfig(input, 'setupBackups(config)');
    if (!config.schedule) throw new ConfigurationError('setupBackups(config).schedule', 'is missing', 'Give a cron expression, e.g. "0 2 * * *" for daily at 02:00');
    await this.#repositories.passphrase(config);
    backupTargets(this.context().registry, config.databases);
    this.#lastConfig = config;
    const name = `backup:${config.destination}`;
    const { nextRun } = await this.scheduler().schedule({
      name,
      kind: 'backup',
      cron: config.schedule,
      timeZone: config.timeZone,
      missedRunPolicy: config.missedRunPolicy,
      config: { ...input, passphraseFile: config.passphraseFile },
      run: async () => {
        const result = await this.createBackup(input);
        return { backupId: result.backupId, type: result.type, sizeBytes: result.sizeBytes, storedBytes: result.storedBytes, databases: result.databases.map((d) => d.database), skipped: result.skipped };
      },
    });
    await this.audit('backup.schedule', name, false, { schedule: config.schedule, timeZone: config.timeZone, config: input });
    return { name, nextRun };
  }

  /**
   * The seed's `restoreBackup(backupId)`, plus point-in-time targets. Reads only the repository (the source database
   * may be down), never restores over a running cluster, and refuses before writing anything what cannot work.
   */
  async restoreBackup(backupId: string | undefined, options: RestoreOptions = {}): Promise<RestoreResult> {
    const { signal: _signal, onProgress: _onProgress, ...args } = options;
    // A target's password never reaches the audit log or the logs.
    if (args.target !== undefined) args.target = describeRestoreTarget(args.target);
    return this.#audited('backup.restore', backupId ?? 'latest', { ...args }, () => this.#restoreBackup(backupId, options), (r) => ({ database: r.database, backupId: r.backupId, to: r.to, target: r.target }));
  }

  async #restoreBackup(backupId: string | undefined, options: RestoreOptions): Promise<RestoreResult> {
    if (isSetId(backupId)) {
      const set = await this.#withKnownBackups(options, (destination, exists) => findBackupSet(destination, backupId, exists));
      return restoreBackupSet(set, options, (memberId, memberOptions) => this.#restoreBackup(memberId, memberOptions));
    }
    return this.#repositories.withAll(options, async (repos, destination, passphrase) => {
      const found = await this.#repositories.find(repos, destination, backupId, options.database);
      const driver = await driverOfRepository(found.repository);
      const configured = this.configuration().backups?.walPrefetch;
      const withDefaults = options.walPrefetch === undefined && typeof configured === 'number' ? { ...options, walPrefetch: configured } : options;
      const result = await this.#logged('backup.restore', { database: found.database, backupId: backupId ?? 'latest', to: options.to, target: options.target === undefined ? undefined : describeRestoreTarget(options.target) }, () => driver.restore({
        repository: found.repository, repositoryPath: found.path, destination, database: found.database, backupId, options: withDefaults, passphrase,
        passphraseFile: this.#repositories.passphraseFile(options.passphraseFile),
      }), { result: (r) => ({ backupId: r.backupId, to: r.to, target: r.target }) });
      this.log('info', `restored ${found.database} backup ${result.backupId} into ${result.to}${result.target ? ` to ${result.target}` : ''}`);
      return result;
    });
  }

  /**
   * Restore drills: the newest backup and a random instant of the window, each restored into a scratch directory,
   * started on a free port, checked (it opens; row counts of the largest tables; `checks.sql`), then removed. Each
   * report is recorded in the state store's audit log as 'backup.drill'.
   */
  async drill(options: DrillOptions = {}): Promise<DrillReport[]> {
    return this.#logged('backup.drill', { database: options.database }, () => runDrills({
      windows: () => this.windowsWithDrivers(options.database, { destination: options.destination, passphraseFile: options.passphraseFile }),
      restore: (restoreOptions) => this.restoreBackup(undefined, restoreOptions),
      record: (report) => this.audit('backup.drill', report.database, false, { ok: report.ok, runs: report.runs }),
    }, options), { result: (reports) => ({ databases: reports.map((r) => ({ database: r.database, ok: r.ok })) }), failed: (reports) => reports.some((r) => !r.ok) });
  }

  /** Drills on a cron schedule (recorded like every scheduled run); `schedule` is a cron expression. */
  async setupDrills(options: DrillOptions & { schedule: string; timeZone?: string }): Promise<{ name: string; nextRun: Date | null }> {
    if (typeof options.schedule !== 'string' || options.schedule.trim() === '') throw new ConfigurationError('setupDrills(options).schedule', 'is missing', 'Give a cron expression, e.g. "0 4 * * 0" for Sundays at 04:00');
    const name = `drill:${this.#repositories.destination(options.destination)}:${options.database ?? '*'}`;
    const { schedule, timeZone, random: _random, ...stored } = options;
    const { nextRun } = await this.scheduler().schedule({
      name, kind: 'drill', cron: schedule, timeZone: timeZone ?? 'UTC', missedRunPolicy: 'skip', config: { ...stored },
      run: async () => {
        const reports = await this.drill(options);
        return { ok: reports.every((r) => r.ok), databases: reports.map((r) => ({ database: r.database, ok: r.ok, errors: r.runs.filter((x) => x.error).map((x) => x.error) })) };
      },
    });
    return { name, nextRun };
  }

  /**
   * validateSystem()'s backup checks per database: age against the schedule, the WAL archive, the last drill.
   * Skipped while no destination is known (no createBackup/setupBackups, no backups.destination).
   */
  async validationChecks(): Promise<SystemCheck[]> {
    const configured = this.configuration().backups;
    if ((this.#lastConfig?.destination ?? configured?.destination) === undefined) return [systemCheck('backups', 'skipped', 'no backup destination configured (createBackup, setupBackups, or backups.destination)')];
    const scheduleOf = (cron: string | undefined, timeZone: string | undefined) => (cron === undefined ? undefined : { cron, timeZone });
    const drill = this.context().runningScheduler?.list().find((j) => j.kind === 'drill');
    const facts = await this.#facts({ window: true });
    this.#metrics.remember(facts);
    return backupChecks(facts, {
      backup: this.#lastConfig ? scheduleOf(this.#lastConfig.schedule, this.#lastConfig.timeZone) : scheduleOf(configured?.schedule, configured?.timeZone),
      drill: drill && { cron: drill.cron, timeZone: drill.timeZone },
    });
  }

  /** What the checks and the metrics read of each database with a backup driver (repositories, archiver, drills). */
  async #facts(options: { window: boolean }): Promise<DatabaseBackupFacts[]> {
    const targets = backupFactTargets(this.context().registry.all(), this.#lastConfig?.databases ?? this.configuration().backups?.databases);
    return readBackupFacts(targets, this.#repositories, await this.context().state().catch(() => undefined), options);
  }

  /** The recoverability window of each database as gauge samples (seconds since the epoch), for an exporter. */
  async windowMetrics(options: { destination?: string; passphraseFile?: string } = {}): Promise<MetricSample[]> {
    return windowMetrics(await this.window(undefined, options));
  }

  /** The recoverability window of each database (or the one asked for), from the repository alone. */
  async window(database?: string, options: { destination?: string; timeline?: number; passphraseFile?: string } = {}): Promise<RecoverabilityWindow[]> {
    return (await this.windowsWithDrivers(database, options)).map(({ driver: _driver, ...window }) => window);
  }

  private async windowsWithDrivers(database: string | undefined, options: { destination?: string; timeline?: number; passphraseFile?: string }): Promise<(RecoverabilityWindow & { driver: BackupDriver })[]> {
    return this.#repositories.withAll(options, async (repos, destination) => {
      const out: (RecoverabilityWindow & { driver: BackupDriver })[] = [];
      for (const r of repos) {
        if (database !== undefined && database !== r.database) continue;
        const driver = await driverOfRepository(r.repository);
        out.push({ ...(await driver.window(r.repository, r.database, { timeline: options.timeline })), driver });
      }
      if (database !== undefined && out.length === 0) throw new UsageError('database', `no repository for "${database}" in ${destination} (there are: ${repos.map((r) => r.database).join(', ') || 'none'})`);
      return out;
    });
  }

  /** The backup sets under the destination (one per createBackup run), oldest first, with the members still kept. */
  async listBackupSets(options: { destination?: string; passphraseFile?: string } = {}): Promise<BackupSet[]> {
    return this.#withKnownBackups(options, (destination, exists) => readBackupSets(destination, exists));
  }

  /** Runs `fn` with the destination and a test of whether a set member's backup still exists in its repository. */
  async #withKnownBackups<T>(options: { destination?: string; passphraseFile?: string }, fn: (destination: string, exists: (m: BackupSetMember) => boolean) => Promise<T>): Promise<T> {
    const known = new Set((await this.listBackups(options)).map((b) => `${b.database}\u0000${b.backupId}`));
    return fn(this.#repositories.destination(options.destination), (m) => known.has(`${m.database}\u0000${m.backupId}`));
  }

  /** Completed backups of every repository under the destination, oldest first. */
  async listBackups(options: { destination?: string; passphraseFile?: string } = {}): Promise<(BackupSummary & { repository: string })[]> {
    const out = await this.#repositories.withAll(options, async (repos) => {
      const all: (BackupSummary & { repository: string })[] = [];
      for (const { path, repository } of repos) {
        for (const summary of await repository.list()) all.push({ ...summary, repository: path });
      }
      return all;
    });
    return out.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  }

  /**
   * Re-reads and re-hashes every chunk of the backup, then has its engine's driver read and authenticate the log after
   * it up to the end of the unbroken archive: every segment a restore to any later target could need.
   */
  async verifyBackup(backupId: string, options: { destination?: string; passphraseFile?: string } = {}): Promise<BackupVerifyResult> {
    return this.#audited('backup.verify', backupId, { ...options }, () => this.#verifyBackup(backupId, options), (r) => ({ ok: r.ok, problems: r.problems }));
  }

  async #verifyBackup(backupId: string, options: { destination?: string; passphraseFile?: string }): Promise<BackupVerifyResult> {
    return this.#logged('backup.verify', { backupId }, () => this.#repositories.withAll(options, async (repos, destination) => {
      const found = await this.#repositories.find(repos, destination, backupId, undefined);
      const report = await found.repository.verify(backupId);
      const summary = (await found.repository.list()).find((s) => s.backupId === backupId)!;
      const log = await (await driverOfRepository(found.repository)).verifyLog(found.repository, summary);
      const problems = log.problem ? [...report.problems, log.problem] : report.problems;
      return { ...report, ok: problems.length === 0, problems, walSegmentsAfter: log.segments, walEndsAt: log.endsAt };
    }), { result: (r) => ({ ok: r.ok, problems: r.problems }), failed: (r) => !r.ok });
  }

  /** Applies a retention policy (default: the last config's) to every repository; `dryRun` only reports. Audited. */
  async expireBackups(options: { destination?: string; retention?: RetentionPolicy; dryRun?: boolean; prune?: boolean; passphraseFile?: string } = {}): Promise<ExpireResult[]> {
    const retention = options.retention ?? this.#lastConfig?.retention;
    if (!retention) throw new UsageError('retention', 'no retention policy given; pass {daily, weekly, monthly, yearly} (or call createBackup/setupBackups first)');
    return this.#repositories.withAll(options, async (repos) => {
      const out: ExpireResult[] = [];
      for (const { database, repository } of repos) {
        const driver = await driverOfRepository(repository);
        out.push(await this.#logged('backup.expire', { database, dryRun: options.dryRun ?? false }, () => expireRepository({ database, repository, driver, retention, dryRun: options.dryRun ?? false, prune: options.prune ?? true, log: (l, m) => this.log(l, m), audit: (...a) => this.audit(...a) }), { result: expireFields }));
      }
      return out;
    });
  }

  async prune(options: { destination?: string; dryRun?: boolean; passphraseFile?: string } = {}): Promise<(PruneResult & { repository: string })[]> {
    return this.#repositories.withAll(options, async (repos) => {
      const out: (PruneResult & { repository: string })[] = [];
      for (const { path, repository } of repos) {
        const lock = await repository.lock('exclusive', 'prune');
        try {
          // Logged by the repository itself (repository.prune), as the prune after an expiry is.
          out.push({ ...(await repository.prune({ dryRun: options.dryRun })), repository: path });
        } finally {
          await lock.release();
        }
        await this.audit('backup.prune', path, options.dryRun ?? false, {});
      }
      return out;
    });
  }

  private log(level: 'info' | 'warn', message: string): void {
    this.#logger().log(level, message);
  }

  /** The DataManager's logger; silent when there is none (a configuration that does not load fails the call itself). */
  #logger(): Logger {
    try {
      return this.logger();
    } catch {
      return silentLogger;
    }
  }

  #logged<T>(operation: string, fields: Record<string, unknown>, fn: () => Promise<T>, options: OperationLogOptions<T>): Promise<T> {
    return logOperation(this.#logger(), operation, fields, fn, options);
  }

  private async audit(action: string, target: string, dryRun: boolean, details: Record<string, unknown>): Promise<void> {
    const state = await this.#state.get();
    await state.audit({ action, target, dryRun, details });
  }

  /** Runs a change and records it in the audit log with its outcome (see audited()). */
  #audited<T>(action: string, target: string | undefined, details: Record<string, unknown>, change: () => Promise<T>, result: (value: T) => Record<string, unknown>): Promise<T> {
    return audited(() => this.#state.get(), { action, target, details }, change, {
      result, onAuditError: (error) => this.#logger().log('warn', `could not record ${action} in the audit log`, { operation: action, error }),
    });
  }

  /** Closes the state store opened for audit entries before initialize (the DataManager's close() calls this). */
  async close(): Promise<void> {
    await this.#state.close();
  }
}

const isFull = ({ type }: BackupSummary): boolean => type === 'full';
