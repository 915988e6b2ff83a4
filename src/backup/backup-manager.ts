import { constants, existsSync } from 'node:fs';
import { access, chown, mkdir, readdir, realpath, stat } from 'node:fs/promises';
import { join, resolve as resolvePath } from 'node:path';
import { isSqlAdapter, type DatabaseAdapter } from '../adapters/database-adapter.js';
import { datakeepCommandLine, shellQuote } from '../cli/datakeep-command-line.js';
import type { ResolvedDatakeepConfig } from '../config/datakeep-config.js';
import type { DatakeepContext } from '../datakeep-context.js';
import { ConfigurationError, UsageError } from '../errors/index.js';
import { initRepository, openRepository } from '../repository/index.js';
import type { BackupSummary, PruneResult, Repository, VerifyReport } from '../repository/repository-types.js';
import type { JobScheduler } from '../scheduler/job-scheduler.js';
import { resolveBackupConfig, type BackupConfig, type ResolvedBackupConfig } from './backup-config.js';
import { backupPostgres, backupPostgresStream, resolvePassphrase, restorePostgres, type PostgresBackupProgress, type PostgresRestoreProgress } from './postgres/index.js';
import { walkArchivedWal } from './postgres/archived-wal-path.js';
import { checkCommandReachable } from './postgres/check-command-reachable.js';
import { recoverabilityWindow, segmentSizeOf, type RecoverabilityWindow } from './postgres/recoverability-window.js';
import { serverOsUser } from './postgres/server-os-user.js';
import { TimelineHistory } from './postgres/timeline-history.js';
import { parseLsn } from './postgres/wal-position.js';
import { windowMetrics, type MetricSample } from './window-metrics.js';
import { runDrills, type DrillOptions, type DrillReport } from './run-drill.js';
import { decideRetention, describeRecoveryWindow, walOrder, type RetentionPolicy } from './retention-policy.js';

/** Used when `encryption: false`: objects stay authenticated, but the key is not secret (documented). */
interface OpenedRepository {
  readonly path: string;
  readonly repository: Repository;
}

async function closeAll(repos: readonly OpenedRepository[]): Promise<void> {
  await Promise.all(repos.map((r) => r.repository.close?.()));
}

const PUBLIC_PASSPHRASE = 'datakeep-unencrypted-repository';

export interface DatabaseBackupResult {
  readonly database: string;
  readonly backupId: string;
  readonly type: BackupConfig['type'];
  /** Differs from `type` when no base existed (an incremental without a full becomes a full, as in pgBackRest). */
  readonly requestedType: BackupConfig['type'];
  readonly method: 'data-directory' | 'replication-protocol';
  readonly repository: string;
  readonly sizeBytes: number;
  readonly storedBytes: number;
  readonly startedAt: Date;
  readonly finishedAt: Date;
  readonly walSegments: number;
}

/** What the seed's `createBackup` returns: the first database's figures at the top, every database below. */
export interface CreateBackupResult {
  readonly backupId: string;
  readonly type: BackupConfig['type'];
  readonly startedAt: Date;
  readonly finishedAt: Date;
  readonly sizeBytes: number;
  readonly storedBytes: number;
  readonly databases: readonly DatabaseBackupResult[];
  readonly skipped: readonly { database: string; reason: string }[];
  readonly expired: readonly ExpireResult[];
}

export interface ExpireResult {
  readonly database: string;
  readonly dryRun: boolean;
  readonly expired: readonly string[];
  readonly kept: readonly { backupId: string; reasons: string[] }[];
  readonly walRemoved: number;
  readonly prune?: PruneResult;
  /** The point-in-time recovery window left after this decision: from the oldest kept backup's consistency point. */
  readonly window: { readonly from: string | undefined; readonly requestedMs: number; readonly short: boolean; readonly description: string };
}

export interface RestoreOptions {
  /**
   * Recovery targets (at most one). A time is a `Date`, ISO 8601 with `Z` or an offset, or PostgreSQL's form with an
   * offset ('2026-11-28 14:05:00+00'); a time without a zone needs `timeZone`. Without a backup id, the newest backup
   * consistent before the target is the base.
   */
  targetTime?: Date | string;
  /** IANA zone for a targetTime written without one. */
  timeZone?: string;
  targetLsn?: string;
  targetName?: string;
  /** Stop just after the target (default) or just before it. */
  targetInclusive?: boolean;
  /** Timeline to recover along: default the base backup's own; a number, or 'latest'. */
  targetTimeline?: number | 'latest';
  /** A new or empty directory (default: DESTINATION/restores/<backup id>-<time>); never a running cluster's. */
  to?: string;
  /** The database whose backup to restore (needed when several are backed up). */
  database?: string;
  /** Repository root (default: the destination of the last createBackup/setupBackups, or the config file's). */
  destination?: string;
  /** The port written into the restored configuration (default: start.port; the source's would collide). */
  port?: number;
  /** Start the restored server on this port and wait until it has recovered and promoted. */
  start?: { port: number };
  /**
   * A repository of its own for the restored server's WAL once it is promoted (default: archiving off). Never the
   * source's: its new timeline would mislead later restores. Needs `passphraseFile` readable by the server's OS user.
   */
  archiveTo?: string;
  /** The passphrase file (default: the backup config's passphraseFile, then DATAKEEP_REPO_PASSPHRASE(_FILE)). */
  passphraseFile?: string;
  /** On failure keep what was written instead of removing it. */
  keepFailed?: boolean;
  /** Argument names for error messages (the CLI passes its flags). */
  fields?: { time?: string; lsn?: string; name?: string };
  /** Aborting stops the restore and removes what it wrote. */
  signal?: AbortSignal;
  onProgress?: (progress: PostgresRestoreProgress) => void;
}

export interface RestoreResult {
  readonly backupId: string;
  /** Set when the base is an ancestor of the backup asked for (the target lies before the latter's consistency). */
  readonly note: string | undefined;
  readonly database: string;
  readonly to: string;
  readonly timeline: number;
  readonly target: string | undefined;
  readonly started: boolean;
  readonly walSegmentsChecked: number;
  readonly recoverySettings: readonly string[];
  /** The command that starts the restored server (when `start` was not asked for). */
  readonly startCommand: string;
}

export interface BackupVerifyResult extends VerifyReport {
  /** WAL after the backup, read and authenticated, up to the end of the unbroken archive on its timeline. */
  readonly walSegmentsAfter: number;
  readonly walEndsAt: string | undefined;
}

export interface BackupRunOptions {
  onProgress?: (database: string, progress: PostgresBackupProgress) => void;
}

/**
 * `dm.backups`: physical PostgreSQL backups into a repository per database, retention, schedules and point-in-time
 * restore. Engines without a backup driver yet are reported as skipped, never silently ignored.
 */
export class BackupManager {
  #lastConfig: ResolvedBackupConfig | undefined;

  /**
   * @param context the initialized DataManager's context (databases, state store, scheduler)
   * @param configuration the configuration alone: reading a repository (list, verify, window, restore) needs no
   *   database connection, and must work while the database it protects is down
   */
  constructor(private readonly context: () => DatakeepContext, private readonly configuration: () => ResolvedDatakeepConfig = () => context().config) {}

  private scheduler(): JobScheduler {
    return this.context().scheduler();
  }

  /** The seed's `createBackup(config)`: backs up every configured database that has a backup driver. */
  async createBackup(input: BackupConfig, options: BackupRunOptions = {}): Promise<CreateBackupResult> {
    const config = resolveBackupConfig(input, 'createBackup(config)');
    this.#lastConfig = config;
    const passphrase = await this.passphrase(config);
    const { targets, skipped } = this.backupTargets(config);
    if (targets.length === 0) {
      throw new ConfigurationError('databases', `none of the configured databases has a backup driver (${skipped.map((s) => `${s.database}: ${s.reason}`).join('; ')})`, 'Configure a postgresql database to back up');
    }
    const started = new Date();
    const results: DatabaseBackupResult[] = [];
    const expired: ExpireResult[] = [];
    for (const adapter of targets) {
      const repositoryPath = join(config.destination, adapter.id);
      const dataDirectory = await this.readableDataDirectory(adapter);
      const repository = await this.openOrInit(repositoryPath, passphrase, config, dataDirectory);
      try {
        results.push(await this.backupOne(adapter, repository, repositoryPath, config, dataDirectory, options));
        expired.push(await this.expireIn(adapter.id, repository, config.retention, false));
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
    await this.passphrase(config);
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
    const destination = this.destination(options.destination);
    const passphrase = await this.passphrase({ passphraseFile: options.passphraseFile });
    const repos = await this.repositories(destination, passphrase);
    try {
      return await this.restoreFrom(repos, destination, backupId, options, passphrase);
    } finally {
      await closeAll(repos);
    }
  }

  private async restoreFrom(repos: OpenedRepository[], destination: string, backupId: string | undefined, options: RestoreOptions, passphrase: string): Promise<RestoreResult> {
    const found = await this.findRepository(repos, destination, backupId, options.database);
    const database = found.database;
    const to = resolvePath(options.to ?? join(await this.restoresDirectory(destination), `${database}-${new Date().toISOString().replace(/[:.]/g, '')}`));
    // The restored server runs restore_command as its OS user: a datakeep it cannot read would fail at the first
    // segment, after the whole copy. Say so now.
    if (process.getuid?.() === 0) await checkCommandReachable(datakeepCommandLine(), 'postgres');
    const archive = options.archiveTo === undefined ? 'off' as const : await this.archiveForRestore(options, found.path, passphrase);
    const walGet = (passphraseFile: string | undefined) => {
      const command = [...datakeepCommandLine(), 'wal', 'get', '%f', '%p', '--repo', found.path];
      if (passphraseFile) command.push('--passphrase-file', passphraseFile);
      return command.map((a) => (a === '%f' ? a : a === '%p' ? '"%p"' : shellQuote(a))).join(' ');
    };
    const result = await restorePostgres({
      repository: found.repository,
      backupId,
      database,
      to,
      // The server's OS user rarely can read the passphrase where datakeep got it (an environment variable, a file
      // of root's): the restore writes it into the data directory for that user, and recovery_end_command removes it.
      restoreCommand: ({ passphraseFile }) => walGet(passphraseFile),
      passphrase,
      target: options.targetTime !== undefined || options.targetLsn !== undefined || options.targetName !== undefined
        ? { time: options.targetTime, timeZone: options.timeZone, lsn: options.targetLsn, name: options.targetName, inclusive: options.targetInclusive }
        : undefined,
      timeline: options.targetTimeline,
      archive,
      port: options.port ?? options.start?.port,
      keepFailed: options.keepFailed,
      fields: options.fields,
      signal: options.signal,
      start: options.start ? { port: options.start.port } : undefined,
      onProgress: options.onProgress,
    });
    const { startCommandFor } = await import('./postgres/start-restored-cluster.js');
    this.log('info', `restored ${database} backup ${result.backupId} into ${result.to}${result.target ? ` to ${result.target}` : ''}`);
    return {
      backupId: result.backupId, note: result.note, database, to: result.to, timeline: result.timeline, target: result.target,
      started: result.started, walSegmentsChecked: result.walSegmentsChecked, recoverySettings: result.recoverySettings,
      startCommand: startCommandFor(result.to),
    };
  }

  /** The archive_command for a restored server that archives into a repository of its own (created when missing). */
  private async archiveForRestore(options: RestoreOptions, sourcePath: string, passphrase: string): Promise<{ archiveCommand: string }> {
    const target = resolvePath(options.archiveTo!);
    // Through symlinks too: a link to the source repository is the source repository.
    const real = async (path: string) => realpath(path).catch(() => path);
    const [targetReal, sourceReal, destinationReal] = await Promise.all([real(target), real(resolvePath(sourcePath)), real(resolvePath(join(sourcePath, '..')))]);
    if (targetReal === sourceReal || targetReal.startsWith(`${sourceReal}/`) || sourceReal.startsWith(`${targetReal}/`)) {
      throw new UsageError('archiveTo', `"${target}" is (or holds) the repository being restored from; a restored server archiving there writes a new timeline into its source's history; give a new directory`);
    }
    if (targetReal === destinationReal) throw new UsageError('archiveTo', `"${target}" is the backup destination itself, which holds the repositories; give a new directory`);
    if (existsSync(target) && !existsSync(join(target, 'config')) && (await readdir(target)).length > 0) {
      throw new UsageError('archiveTo', `"${target}" is a non-empty directory that is not a repository; give a new or empty directory`);
    }
    const passphraseFile = options.passphraseFile ?? this.passphraseFileSetting();
    if (!passphraseFile) throw new UsageError('archiveTo', 'needs passphraseFile (a file the server\'s OS user can read, kept after the restore) for the archive_command of the new repository');
    if (!existsSync(join(target, 'config'))) {
      const repository = await initRepository(target, { passphrase, compression: 'zstd' });
      await repository.close();
      if (process.getuid?.() === 0) {
        const user = serverOsUser();
        await chownTree(target, user.uid, user.gid);
      }
    }
    const command = [...datakeepCommandLine(), 'wal', 'push', '%p', '--repo', target, '--passphrase-file', resolvePath(passphraseFile)];
    return { archiveCommand: command.map((a) => (a === '%p' ? a : shellQuote(a))).join(' ') };
  }

  /**
   * DESTINATION/restores, created so that the server's OS user can enter it: as root, a directory of root's with mode
   * 0700 would stop the restored server from opening its data directory.
   */
  private async restoresDirectory(destination: string): Promise<string> {
    const dir = join(destination, 'restores');
    if (!existsSync(dir)) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      if (process.getuid?.() === 0) {
        const user = serverOsUser();
        await chown(dir, user.uid, user.gid);
      }
    }
    return dir;
  }

  /**
   * Restore drills: the newest backup and a random instant of the window, each restored into a scratch directory,
   * started on a free port, checked (it opens; row counts of the largest tables; `checks.sql`), then removed. Each
   * report is recorded in the state store's audit log as 'backup.drill'.
   */
  async drill(options: DrillOptions = {}): Promise<DrillReport[]> {
    return runDrills({
      windows: () => this.window(options.database, { destination: options.destination, passphraseFile: options.passphraseFile }),
      restore: (restoreOptions) => this.restoreBackup(undefined, restoreOptions),
      record: (report) => this.audit('backup.drill', report.database, false, { ok: report.ok, runs: report.runs }),
    }, options);
  }

  /** Drills on a cron schedule (recorded like every scheduled run); `schedule` is a cron expression. */
  async setupDrills(options: DrillOptions & { schedule: string; timeZone?: string }): Promise<{ name: string; nextRun: Date | null }> {
    if (typeof options.schedule !== 'string' || options.schedule.trim() === '') throw new ConfigurationError('setupDrills(options).schedule', 'is missing', 'Give a cron expression, e.g. "0 4 * * 0" for Sundays at 04:00');
    const name = `drill:${this.destination(options.destination)}:${options.database ?? '*'}`;
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
    const destination = this.destination(options.destination);
    const repos = await this.repositories(destination, await this.passphrase({ passphraseFile: options.passphraseFile }));
    try {
      const out: RecoverabilityWindow[] = [];
      for (const r of repos) {
        const name = r.path.split('/').pop()!;
        if (database !== undefined && database !== name) continue;
        out.push(await recoverabilityWindow(r.repository, name, { timeline: options.timeline }));
      }
      if (database !== undefined && out.length === 0) throw new UsageError('database', `no repository for "${database}" in ${destination} (there are: ${repos.map((r) => r.path.split('/').pop()).join(', ') || 'none'})`);
      return out;
    } finally {
      await closeAll(repos);
    }
  }

  /** Completed backups of every repository under the destination, oldest first. */
  async listBackups(options: { destination?: string; passphraseFile?: string } = {}): Promise<(BackupSummary & { repository: string })[]> {
    const destination = this.destination(options.destination);
    const passphrase = await this.passphrase({ passphraseFile: options.passphraseFile });
    const out: (BackupSummary & { repository: string })[] = [];
    const repos = await this.repositories(destination, passphrase);
    try {
      for (const { path, repository } of repos) {
        for (const summary of await repository.list()) out.push({ ...summary, repository: path });
      }
    } finally {
      await closeAll(repos);
    }
    return out.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  }

  /**
   * Re-reads and re-hashes every chunk of the backup and its WAL, then reads and authenticates the WAL after it up to
   * the end of the unbroken archive on its timeline: every segment a restore to any later target could need.
   */
  async verifyBackup(backupId: string, options: { destination?: string; passphraseFile?: string } = {}): Promise<BackupVerifyResult> {
    const destination = this.destination(options.destination);
    const repos = await this.repositories(destination, await this.passphrase({ passphraseFile: options.passphraseFile }));
    try {
      const found = await this.findRepository(repos, destination, backupId, undefined);
      const report = await found.repository.verify(backupId);
      const summary = (await found.repository.list()).find((s) => s.backupId === backupId)!;
      if (typeof summary.metadata.startLsn !== 'string') return { ...report, walSegmentsAfter: 0, walEndsAt: undefined };
      const history = await TimelineHistory.load(found.repository, Number(summary.metadata.timeline ?? 1));
      const problems = [...report.problems];
      let after = 0;
      let endsAt: string | undefined;
      try {
        const path = await walkArchivedWal(found.repository, history, parseLsn(String(summary.metadata.stopLsn ?? summary.metadata.startLsn)), segmentSizeOf([summary]), { authenticate: true });
        after = path.segments.length;
        endsAt = path.segments.at(-1)?.name;
      } catch (error) {
        const items = (error as { items?: readonly string[] }).items ?? [];
        problems.push({ kind: 'corrupt-wal', backupId, path: items[0] ?? 'wal', message: (error as Error).message });
      }
      return { ...report, ok: problems.length === 0, problems, walSegmentsAfter: after, walEndsAt: endsAt };
    } finally {
      await closeAll(repos);
    }
  }

  /** Applies a retention policy (default: the last config's) to every repository; `dryRun` only reports. Audited. */
  async expireBackups(options: { destination?: string; retention?: RetentionPolicy; dryRun?: boolean; prune?: boolean; passphraseFile?: string } = {}): Promise<ExpireResult[]> {
    const destination = this.destination(options.destination);
    const retention = options.retention ?? this.#lastConfig?.retention;
    if (!retention) throw new UsageError('retention', 'no retention policy given; pass {daily, weekly, monthly, yearly} (or call createBackup/setupBackups first)');
    const passphrase = await this.passphrase({ passphraseFile: options.passphraseFile });
    const out: ExpireResult[] = [];
    const repos = await this.repositories(destination, passphrase);
    try {
      for (const { path, repository } of repos) {
        out.push(await this.expireIn(path.split('/').pop()!, repository, retention, options.dryRun ?? false, options.prune ?? true));
      }
    } finally {
      await closeAll(repos);
    }
    return out;
  }

  private async expireIn(database: string, repository: Repository, retention: RetentionPolicy, dryRun: boolean, prune = true): Promise<ExpireResult> {
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
        if (decision.walExpireBefore) {
          const boundary = walOrder(decision.walExpireBefore);
          // Only segment files; timeline .history files are tiny and every restore may need them.
          const old = (await repository.listWal()).filter((name) => /^[0-9A-F]{24}$/.test(name) && walOrder(name) < boundary);
          await repository.deleteWal(old);
          walRemoved = old.length;
        }
      }
      if (prune && !dryRun && decision.expire.length > 0) pruned = await repository.prune();
      await this.audit('backup.expire', database, dryRun, { expired: decision.expire, walRemoved, window: window.description });
      return { database, dryRun, expired: decision.expire, kept: [...decision.keep].map(([backupId, reasons]) => ({ backupId, reasons })), walRemoved, prune: pruned, window };
    } finally {
      await lock?.release();
    }
  }

  async prune(options: { destination?: string; dryRun?: boolean; passphraseFile?: string } = {}): Promise<(PruneResult & { repository: string })[]> {
    const destination = this.destination(options.destination);
    const passphrase = await this.passphrase({ passphraseFile: options.passphraseFile });
    const out: (PruneResult & { repository: string })[] = [];
    const repos = await this.repositories(destination, passphrase);
    try {
      for (const { path, repository } of repos) {
        const lock = await repository.lock('exclusive', 'prune');
        try {
          out.push({ ...(await repository.prune({ dryRun: options.dryRun })), repository: path });
        } finally {
          await lock.release();
        }
        await this.audit('backup.prune', path, options.dryRun ?? false, {});
      }
    } finally {
      await closeAll(repos);
    }
    return out;
  }

  private async backupOne(adapter: DatabaseAdapter, repository: Repository, repositoryPath: string, config: ResolvedBackupConfig, dataDirectory: string | undefined, options: BackupRunOptions): Promise<DatabaseBackupResult> {
    const summaries = (await repository.list()).filter((s) => s.database === adapter.id);
    const type = config.type !== 'full' && !summaries.some((s) => s.type === 'full') ? 'full' : config.type;
    const onProgress = (p: PostgresBackupProgress) => options.onProgress?.(adapter.id, p);
    const lock = await repository.lock('shared', 'backup');
    try {
      let result;
      let method: DatabaseBackupResult['method'];
      if (dataDirectory) {
        method = 'data-directory';
        if (!isSqlAdapter(adapter)) throw new Error(`internal: ${adapter.id} is not a SQL adapter`);
        result = await backupPostgres({ connection: adapter, dataDirectory, repository, type, database: adapter.id, workers: config.workers, walTimeoutMs: config.walTimeoutMs, onProgress });
      } else {
        method = 'replication-protocol';
        const c = this.context().config.databases.find((d) => d.id === adapter.id)!;
        result = await backupPostgresStream({ host: c.host, port: c.port, user: c.username ?? 'postgres', password: c.password, repository, database: adapter.id, walTimeoutMs: config.walTimeoutMs, onProgress });
      }
      return {
        database: adapter.id, backupId: result.backupId, type: result.type, requestedType: config.type, method, repository: repositoryPath,
        sizeBytes: result.sizeBytes, storedBytes: result.storedBytes, startedAt: new Date(result.startedAt), finishedAt: new Date(result.finishedAt), walSegments: result.walSegments.length,
      };
    } finally {
      await lock.release();
    }
  }

  /** The server's data directory when this process can read it (datakeep on the database host), else undefined. */
  private async readableDataDirectory(adapter: DatabaseAdapter): Promise<string | undefined> {
    const rows = await adapter.query<{ data_directory: string }>('SHOW data_directory');
    const dir = rows[0]?.data_directory;
    if (!dir) return undefined;
    try {
      await access(join(dir, 'PG_VERSION'), constants.R_OK);
      await access(join(dir, 'global'), constants.R_OK | constants.X_OK);
      return dir;
    } catch {
      return undefined;
    }
  }

  private backupTargets(config: ResolvedBackupConfig): { targets: DatabaseAdapter[]; skipped: { database: string; reason: string }[] } {
    const registry = this.context().registry;
    const adapters = config.databases ? config.databases.map((id) => registry.get(id)) : registry.all();
    const targets: DatabaseAdapter[] = [];
    const skipped: { database: string; reason: string }[] = [];
    for (const adapter of adapters) {
      if (adapter.type === 'postgresql') targets.push(adapter);
      else skipped.push({ database: adapter.id, reason: skipReason(adapter.type) });
    }
    if (config.databases && skipped.length) {
      throw new ConfigurationError('databases', `${skipped.map((s) => `${s.database}: ${s.reason}`).join('; ')}`, 'Remove those ids from databases');
    }
    return { targets, skipped };
  }

  private async openOrInit(path: string, passphrase: string, config: ResolvedBackupConfig, dataDirectory: string | undefined): Promise<Repository> {
    if (existsSync(join(path, 'config'))) return openRepository(path, { passphrase, workers: config.workers });
    const repository = await initRepository(path, { passphrase, workers: config.workers, compression: config.compression ? 'zstd' : 'none' });
    // The server's archiver (archive_command, running as the data directory's owner) writes WAL into the repository.
    // When datakeep runs as root, hand the new repository to that user, as pgBackRest's repository belongs to it.
    if (dataDirectory && process.getuid?.() === 0) {
      const { uid, gid } = await stat(dataDirectory);
      if (uid !== 0) await chownTree(path, uid, gid);
    }
    return repository;
  }

  /** Opens every repository under the destination; callers close them (closeAll), which stops their worker threads. */
  private async repositories(destination: string, passphrase: string): Promise<OpenedRepository[]> {
    if (!existsSync(destination)) throw new UsageError('destination', `"${destination}" does not exist; give the directory createBackup wrote to`);
    const out: { path: string; repository: Repository }[] = [];
    for (const entry of (await readdir(destination, { withFileTypes: true })).filter((e) => e.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(destination, entry.name);
      if (existsSync(join(path, 'config'))) out.push({ path, repository: await openRepository(path, { passphrase }) });
    }
    return out;
  }

  /** The repository holding `backupId`, or the one of `database` (or the only one) when no id is given. */
  private async findRepository(repos: OpenedRepository[], destination: string, backupId: string | undefined, database: string | undefined): Promise<OpenedRepository & { database: string }> {
    const named = (r: OpenedRepository) => ({ ...r, database: r.path.split('/').pop()! });
    if (backupId !== undefined && backupId !== 'latest') {
      for (const r of repos) {
        if ((await r.repository.list()).some((s) => s.backupId === backupId)) return named(r);
      }
      throw new UsageError('backupId', `no completed backup "${backupId}" in ${destination}; see listBackups() / datakeep backup list`);
    }
    const candidates = [];
    for (const r of repos) {
      if (database !== undefined && database !== r.path.split('/').pop()) continue;
      if ((await r.repository.list()).length > 0) candidates.push(named(r));
    }
    if (candidates.length === 0) throw new UsageError(database ? 'database' : 'backupId', `no completed backup${database ? ` of ${database}` : ''} in ${destination}`);
    if (candidates.length > 1) throw new UsageError('database', `backups of several databases are in ${destination} (${candidates.map((c) => c.database).join(', ')}); say which with options.database (--database)`);
    return candidates[0]!;
  }

  private destination(given: string | undefined): string {
    const destination = given ?? this.#lastConfig?.destination ?? (this.configuration().backups?.destination as string | undefined);
    if (!destination) throw new UsageError('destination', 'no backup destination known; pass options.destination (--dest), or call createBackup/setupBackups first, or set "backups.destination" in the config file');
    return resolvePath(destination);
  }

  private passphraseFileSetting(): string | undefined {
    const configured = this.configuration().backups?.passphraseFile;
    return this.#lastConfig?.passphraseFile ?? (typeof configured === 'string' ? configured : undefined);
  }

  /**
   * The repository passphrase, from the same sources for every command: the call's passphraseFile, the backup
   * config's (the last createBackup/setupBackups, else the config file's "backups"), then DATAKEEP_REPO_PASSPHRASE
   * and DATAKEEP_REPO_PASSPHRASE_FILE. `encryption: false` uses the public passphrase.
   */
  private async passphrase(given: { encryption?: boolean; passphraseFile?: string }): Promise<string> {
    const configuredEncryption = this.#lastConfig?.encryption ?? this.configuration().backups?.encryption;
    const encryption = given.encryption ?? (configuredEncryption === false ? false : true);
    if (!encryption) return PUBLIC_PASSPHRASE;
    const passphraseFile = given.passphraseFile ?? this.passphraseFileSetting();
    try {
      return await resolvePassphrase({ passphraseFile: passphraseFile === undefined ? undefined : resolvePath(passphraseFile) });
    } catch (cause) {
      if (passphraseFile !== undefined) throw cause;
      throw new ConfigurationError('encryption', 'is on, but no repository passphrase was given', 'Set DATAKEEP_REPO_PASSPHRASE (or DATAKEEP_REPO_PASSPHRASE_FILE, or passphraseFile in the backup config, or --passphrase-file), or set encryption: false', { cause });
    }
  }

  private log(level: 'info' | 'warn', message: string): void {
    try {
      this.context().logger.log(level, message);
    } catch {
      // Not initialized (a repository-only command): nothing to log to but the caller's output.
    }
  }

  private async audit(action: string, target: string, dryRun: boolean, details: Record<string, unknown>): Promise<void> {
    const state = await this.context().state();
    await state.audit({ action, target, dryRun, details });
  }
}

function skipReason(type: string): string {
  switch (type) {
    case 'redis':
      return 'no backup driver yet for redis (planned: an RDB snapshot over the replication protocol plus the command stream)';
    case 'mongodb':
      return 'no backup driver yet for mongodb (planned: snapshot reads plus the oplog)';
    case 'pglite':
      return 'the embedded database has no physical backup (it has no WAL archive); use pg_dump-style logical export';
    default:
      return `no backup driver yet for ${type}`;
  }
}

async function chownTree(path: string, uid: number, gid: number): Promise<void> {
  await chown(path, uid, gid);
  if ((await stat(path)).isDirectory()) {
    for (const entry of await readdir(path)) await chownTree(join(path, entry), uid, gid);
  }
}
