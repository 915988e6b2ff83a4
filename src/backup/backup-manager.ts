import { join } from 'node:path';
import type { DatabaseAdapter } from '../adapters/database-adapter.js';
import type { ResolvedDatakeepConfig } from '../config/datakeep-config.js';
import type { DatakeepContext } from '../datakeep-context.js';
import { enginesWith, getEngine, optionalEnginePart } from '../engines/engine-registry.js';
import { ConfigurationError, UsageError } from '../errors/index.js';
import type { BackupSummary, PruneResult, Repository } from '../repository/repository-types.js';
import type { JobScheduler } from '../scheduler/job-scheduler.js';
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
import { RepositorySet, type OpenedRepository } from './repository-set.js';
import { decideRetention, describeRecoveryWindow, type RetentionPolicy } from './retention-policy.js';
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

/** Repositories written before backups recorded their engine hold PostgreSQL backups (the only engine then). */
const ENGINE_OF_OLDER_BACKUPS = 'postgresql';

/**
 * `dm.backups`: backups of every database whose engine has a backup driver, into a repository per database; retention,
 * schedules, verification, restore drills and point-in-time restore. Orchestration only: the repositories are the
 * RepositorySet's, everything engine-specific is the engine's BackupDriver. Databases without a driver are reported
 * as skipped, never silently ignored.
 */
export class BackupManager {
  #lastConfig: ResolvedBackupConfig | undefined;
  readonly #repositories: RepositorySet;

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
  ) {
    this.#repositories = new RepositorySet(() => {
      const configured = this.configuration().backups;
      return {
        destination: this.#lastConfig?.destination ?? (configured?.destination as string | undefined),
        passphraseFile: this.#lastConfig?.passphraseFile ?? (typeof configured?.passphraseFile === 'string' ? configured.passphraseFile : undefined),
        encryption: this.#lastConfig?.encryption ?? (configured?.encryption as boolean | undefined),
      };
    }, () => this.#logger());
  }

  private scheduler(): JobScheduler {
    return this.context().scheduler();
  }

  /** The seed's `createBackup(config)`: backs up every configured database that has a backup driver. */
  async createBackup(input: BackupConfig, options: BackupRunOptions = {}): Promise<CreateBackupResult> {
    return this.#logged('backup.run', { destination: input?.destination }, () => this.#createBackup(input, options), {
      result: (r) => ({ backupId: r.backupId, databases: r.databases.map((d) => d.database), skipped: r.skipped.map((d) => d.database) }),
    });
  }

  async #createBackup(input: BackupConfig, options: BackupRunOptions): Promise<CreateBackupResult> {
    const config = resolveBackupConfig(input, 'createBackup(config)');
    this.#lastConfig = config;
    const passphrase = await this.#repositories.passphrase(config);
    const { targets, skipped } = this.backupTargets(config);
    if (targets.length === 0) {
      throw new ConfigurationError('databases', `none of the configured databases has a backup driver (${skipped.map((s) => `${s.database}: ${s.reason}`).join('; ')})`, `Configure a database of type ${enginesWith('backup').join(', ')} to back up`);
    }
    const started = new Date();
    const results: DatabaseBackupResult[] = [];
    const expired: ExpireResult[] = [];
    for (const { adapter, load } of targets) {
      const driver = await load();
      const repositoryPath = join(config.destination, adapter.id);
      const source = await driver.prepare({ adapter, config: this.context().config.databases.find((d) => d.id === adapter.id)! });
      const repository = await this.#repositories.openOrInit(repositoryPath, passphrase, { workers: config.workers, compression: config.compression, owner: source.repositoryOwner });
      try {
        const summaries = (await repository.list()).filter((s) => s.database === adapter.id);
        // An incremental or differential without a full to build on becomes a full, as in pgBackRest.
        const type = config.type !== 'full' && !summaries.some(isFull) ? 'full' : config.type;
        const lock = await repository.lock('shared', 'backup');
        let result: DatabaseBackupResult;
        try {
          const made = await this.#logged('backup.create', { database: adapter.id, type, repository: repositoryPath }, () => source.backup(repository, { type, workers: config.workers, walTimeoutMs: config.walTimeoutMs, onProgress: (p) => options.onProgress?.(adapter.id, p) }), {
            result: (m) => ({ backupId: m.backupId, type: m.type, sizeBytes: m.sizeBytes, storedBytes: m.storedBytes }),
          });
          result = { ...made, database: adapter.id, requestedType: config.type, repository: repositoryPath };
        } finally {
          await lock.release();
        }
        results.push(result);
        this.log('info', `backed up ${adapter.id}: ${result.type} ${result.backupId} (${result.storedBytes} bytes stored)`);
        expired.push(await this.#logged('backup.expire', { database: adapter.id }, () => this.expireIn(adapter.id, repository, driver, config.retention, false), { result: expireFields }));
      } finally {
        await repository.close?.();
      }
    }
    const first = results[0]!;
    return {
      backupId: first.backupId, type: first.type, startedAt: started, finishedAt: new Date(),
      sizeBytes: results.reduce((n, r) => n + r.sizeBytes, 0), storedBytes: results.reduce((n, r) => n + r.storedBytes, 0),
      databases: results, skipped, expired,
    };
  }

  /** The seed's `setupBackups({...config, schedule})`: a cron schedule whose runs are recorded in the state store. */
  async setupBackups(input: BackupConfig): Promise<{ name: string; nextRun: Date | null }> {
    const config = resolveBackupConfig(input, 'setupBackups(config)');
    if (!config.schedule) throw new ConfigurationError('setupBackups(config).schedule', 'is missing', 'Give a cron expression, e.g. "0 2 * * *" for daily at 02:00');
    await this.#repositories.passphrase(config);
    this.backupTargets(config);
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
    return { name, nextRun };
  }

  /**
   * The seed's `restoreBackup(backupId)`, plus point-in-time targets. Reads only the repository (the source database
   * may be down), never restores over a running cluster, and refuses before writing anything what cannot work.
   */
  async restoreBackup(backupId: string | undefined, options: RestoreOptions = {}): Promise<RestoreResult> {
    return this.#repositories.withAll(options, async (repos, destination, passphrase) => {
      const found = await this.#repositories.find(repos, destination, backupId, options.database);
      const driver = await this.driverOf(found.repository);
      const result = await this.#logged('backup.restore', { database: found.database, backupId: backupId ?? 'latest', to: options.to }, () => driver.restore({
        repository: found.repository, repositoryPath: found.path, destination, database: found.database, backupId, options, passphrase,
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
        const driver = await this.driverOf(r.repository);
        out.push({ ...(await driver.window(r.repository, r.database, { timeline: options.timeline })), driver });
      }
      if (database !== undefined && out.length === 0) throw new UsageError('database', `no repository for "${database}" in ${destination} (there are: ${repos.map((r) => r.database).join(', ') || 'none'})`);
      return out;
    });
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
    return this.#logged('backup.verify', { backupId }, () => this.#repositories.withAll(options, async (repos, destination) => {
      const found = await this.#repositories.find(repos, destination, backupId, undefined);
      const report = await found.repository.verify(backupId);
      const summary = (await found.repository.list()).find((s) => s.backupId === backupId)!;
      const log = await (await this.driverOf(found.repository)).verifyLog(found.repository, summary);
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
        const driver = await this.driverOf(repository);
        out.push(await this.#logged('backup.expire', { database, dryRun: options.dryRun ?? false }, () => this.expireIn(database, repository, driver, retention, options.dryRun ?? false, options.prune ?? true), { result: expireFields }));
      }
      return out;
    });
  }

  private async expireIn(database: string, repository: Repository, driver: BackupDriver, retention: RetentionPolicy, dryRun: boolean, prune = true): Promise<ExpireResult> {
    const lock = dryRun ? undefined : await repository.lock('exclusive', 'expire');
    try {
      const summaries = (await repository.list()).filter((s) => s.database === database);
      const decision = decideRetention(summaries.map((s) => ({
        backupId: s.backupId, type: s.type, parent: s.parent, finishedAt: new Date(s.finishedAt),
        firstWal: (s.metadata.walSegments as string[] | undefined)?.[0],
      })), retention);
      const window = { from: decision.window.from?.toISOString(), requestedMs: decision.window.requested, short: decision.windowShort, description: describeRecoveryWindow(decision) };
      if (!dryRun) this.log(decision.windowShort ? 'warn' : 'info', `${database}: retention kept ${decision.keep.size} backup(s), expired ${decision.expire.length}; ${window.description}`);
      let walRemoved = 0;
      let pruned: PruneResult | undefined;
      if (!dryRun) {
        for (const id of decision.expire) await repository.deleteBackup(id);
        if (decision.walExpireBefore) walRemoved = await driver.expireLog(repository, decision.walExpireBefore);
      }
      if (prune && !dryRun && decision.expire.length > 0) pruned = await repository.prune();
      await this.audit('backup.expire', database, dryRun, { expired: decision.expire, walRemoved, window: window.description });
      return { database, dryRun, expired: decision.expire, kept: [...decision.keep].map(([backupId, reasons]) => ({ backupId, reasons })), walRemoved, prune: pruned, window };
    } finally {
      await lock?.release();
    }
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

  /** The databases to back up, each with its engine's driver; the others with the reason they are skipped. */
  private backupTargets(config: ResolvedBackupConfig): { targets: { adapter: DatabaseAdapter; load: () => Promise<BackupDriver> }[]; skipped: { database: string; reason: string }[] } {
    const registry = this.context().registry;
    const adapters = config.databases ? config.databases.map((id) => registry.get(id)) : registry.all();
    const targets: { adapter: DatabaseAdapter; load: () => Promise<BackupDriver> }[] = [];
    const skipped: { database: string; reason: string }[] = [];
    for (const adapter of adapters) {
      const load = optionalEnginePart(adapter, 'backup');
      if (load && adapter.capabilities.physicalBackup) targets.push({ adapter, load });
      else skipped.push({ database: adapter.id, reason: `no backup driver for ${adapter.type} yet (datakeep backs up ${enginesWith('backup').join(', ')})` });
    }
    if (config.databases && skipped.length) {
      throw new ConfigurationError('databases', `${skipped.map((s) => `${s.database}: ${s.reason}`).join('; ')}`, 'Remove those ids from databases');
    }
    return { targets, skipped };
  }

  /** The driver of the engine whose backups `repository` holds (recorded in each backup's metadata). */
  private async driverOf(repository: Repository): Promise<BackupDriver> {
    const newest = (await repository.list()).at(-1);
    const engine = typeof newest?.metadata.engine === 'string' ? newest.metadata.engine : ENGINE_OF_OLDER_BACKUPS;
    const load = getEngine(engine).parts.backup;
    if (!load) throw new ConfigurationError('backups', `the repository holds ${engine} backups, and this datakeep has no ${engine} backup driver`, 'Use the datakeep version that wrote them');
    return load();
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
    const state = await this.context().state();
    await state.audit({ action, target, dryRun, details });
  }
}

function expireFields(result: ExpireResult): Record<string, unknown> {
  return { dryRun: result.dryRun, expired: result.expired, kept: result.kept.length, walRemoved: result.walRemoved, window: result.window.description };
}

function isFull({ type }: BackupSummary): boolean {
  return type === 'full';
}

export type { OpenedRepository };
