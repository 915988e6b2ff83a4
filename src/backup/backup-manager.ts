import { constants, existsSync } from 'node:fs';
import { access, chown, readdir, stat } from 'node:fs/promises';
import { join, resolve as resolvePath } from 'node:path';
import { isSqlAdapter, type DatabaseAdapter } from '../adapters/database-adapter.js';
import { datakeepCommandLine, shellQuote } from '../cli/datakeep-command-line.js';
import type { DatakeepContext } from '../datakeep-context.js';
import { ConfigurationError, UsageError } from '../errors/index.js';
import { initRepository, openRepository } from '../repository/index.js';
import type { BackupSummary, PruneResult, Repository, VerifyReport } from '../repository/repository-types.js';
import type { JobScheduler } from '../scheduler/job-scheduler.js';
import { resolveBackupConfig, type BackupConfig, type ResolvedBackupConfig } from './backup-config.js';
import { backupPostgres, backupPostgresStream, pickBackupForTime, resolvePassphrase, restorePostgres, type PostgresBackupProgress, type PostgresRestoreProgress } from './postgres/index.js';
import { decideRetention, walOrder, type RetentionPolicy } from './retention-policy.js';

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
}

export interface RestoreOptions {
  /** Recovery targets (at most one). With `targetTime` and no backup id, the right base backup is picked. */
  targetTime?: Date | string;
  targetLsn?: string;
  targetName?: string;
  /** A new or empty directory (default: DESTINATION/restores/<backup id>-<time>); never a running cluster's. */
  to?: string;
  /** The database whose backup to restore (needed with targetTime when several are backed up). */
  database?: string;
  /** Repository root (default: the destination of the last createBackup/setupBackups, or the config file's). */
  destination?: string;
  /** Start the restored server on this port and wait until it has recovered and promoted. */
  start?: { port: number };
  onProgress?: (progress: PostgresRestoreProgress) => void;
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

  constructor(private readonly context: () => DatakeepContext) {}

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

  /** The seed's `restoreBackup(backupId)`, plus point-in-time targets. Never restores over a running cluster. */
  async restoreBackup(backupId: string | undefined, options: RestoreOptions = {}): Promise<{ backupId: string; database: string; to: string; started: boolean; recoverySettings: readonly string[] }> {
    const destination = this.destination(options.destination);
    const passphrase = await this.passphrase(this.#lastConfig ?? { encryption: true, passphraseFile: undefined });
    const repos = await this.repositories(destination, passphrase);
    try {
      return await this.restoreFrom(repos, destination, backupId, options);
    } finally {
      await closeAll(repos);
    }
  }

  private async restoreFrom(repos: OpenedRepository[], destination: string, backupId: string | undefined, options: RestoreOptions): Promise<{ backupId: string; database: string; to: string; started: boolean; recoverySettings: readonly string[] }> {
    const found = await this.findBackup(repos, destination, backupId, options);
    const to = resolvePath(options.to ?? join(destination, 'restores', `${found.summary.backupId}-${new Date().toISOString().replace(/[:.]/g, '')}`));
    const command = [...datakeepCommandLine(), 'wal', 'get', '%f', '%p', '--repo', found.path];
    const passphraseFile = this.#lastConfig?.passphraseFile ?? process.env.DATAKEEP_REPO_PASSPHRASE_FILE;
    if (passphraseFile) command.push('--passphrase-file', resolvePath(passphraseFile));
    const restoreCommand = command.map((a) => (a === '%f' || a === '%p' ? (a === '%p' ? '"%p"' : a) : shellQuote(a))).join(' ');
    const result = await restorePostgres({
      repository: found.repository,
      backupId: found.summary.backupId,
      to,
      restoreCommand,
      target: options.targetTime !== undefined || options.targetLsn !== undefined || options.targetName !== undefined
        ? { time: options.targetTime, lsn: options.targetLsn, name: options.targetName }
        : undefined,
      start: options.start ? { port: options.start.port } : undefined,
      onProgress: options.onProgress,
    });
    return { backupId: found.summary.backupId, database: found.summary.database, to: result.to, started: result.started, recoverySettings: result.recoverySettings };
  }

  /** Completed backups of every repository under the destination, oldest first. */
  async listBackups(options: { destination?: string } = {}): Promise<(BackupSummary & { repository: string })[]> {
    const destination = this.destination(options.destination);
    const passphrase = await this.passphrase(this.#lastConfig ?? { encryption: true, passphraseFile: undefined });
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

  async verifyBackup(backupId: string, options: { destination?: string } = {}): Promise<VerifyReport> {
    const destination = this.destination(options.destination);
    const passphrase = await this.passphrase(this.#lastConfig ?? { encryption: true, passphraseFile: undefined });
    const repos = await this.repositories(destination, passphrase);
    try {
      return await (await this.findBackup(repos, destination, backupId, {})).repository.verify(backupId);
    } finally {
      await closeAll(repos);
    }
  }

  /** Applies a retention policy (default: the last config's) to every repository; `dryRun` only reports. Audited. */
  async expireBackups(options: { destination?: string; retention?: RetentionPolicy; dryRun?: boolean; prune?: boolean } = {}): Promise<ExpireResult[]> {
    const destination = this.destination(options.destination);
    const retention = options.retention ?? this.#lastConfig?.retention;
    if (!retention) throw new UsageError('retention', 'no retention policy given; pass {daily, weekly, monthly, yearly} (or call createBackup/setupBackups first)');
    const passphrase = await this.passphrase(this.#lastConfig ?? { encryption: true, passphraseFile: undefined });
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
      await this.audit('backup.expire', database, dryRun, { expired: decision.expire, walRemoved });
      return { database, dryRun, expired: decision.expire, kept: [...decision.keep].map(([backupId, reasons]) => ({ backupId, reasons })), walRemoved, prune: pruned };
    } finally {
      await lock?.release();
    }
  }

  async prune(options: { destination?: string; dryRun?: boolean } = {}): Promise<(PruneResult & { repository: string })[]> {
    const destination = this.destination(options.destination);
    const passphrase = await this.passphrase(this.#lastConfig ?? { encryption: true, passphraseFile: undefined });
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

  private async findBackup(repos: OpenedRepository[], destination: string, backupId: string | undefined, options: RestoreOptions): Promise<OpenedRepository & { summary: BackupSummary }> {
    if (backupId === undefined || backupId === 'latest') {
      const candidates: { path: string; repository: Repository; summary: BackupSummary }[] = [];
      for (const r of repos) {
        const database = r.path.split('/').pop()!;
        if (options.database && options.database !== database) continue;
        const summaries = await r.repository.list();
        const summary = options.targetTime !== undefined ? pickBackupForTime(summaries, options.targetTime, database) : summaries.at(-1);
        if (summary) candidates.push({ ...r, summary });
      }
      if (candidates.length === 0) throw new UsageError('backupId', `no completed backup${options.targetTime ? ` finished before ${String(options.targetTime)}` : ''} in ${destination}`);
      if (candidates.length > 1) throw new UsageError('database', `backups of several databases are in ${destination} (${candidates.map((c) => c.summary.database).join(', ')}); say which with options.database`);
      return candidates[0]!;
    }
    for (const r of repos) {
      const summary = (await r.repository.list()).find((s) => s.backupId === backupId);
      if (summary) return { ...r, summary };
    }
    throw new UsageError('backupId', `no completed backup "${backupId}" in ${destination}; see listBackups() / datakeep backup list`);
  }

  private destination(given: string | undefined): string {
    const destination = given ?? this.#lastConfig?.destination ?? (this.context().config.backups?.destination as string | undefined);
    if (!destination) throw new UsageError('destination', 'no backup destination known; pass options.destination, or call createBackup/setupBackups first, or set "backups.destination" in the config file');
    return resolvePath(destination);
  }

  private async passphrase(config: Pick<ResolvedBackupConfig, 'encryption' | 'passphraseFile'>): Promise<string> {
    if (!config.encryption) return PUBLIC_PASSPHRASE;
    try {
      return await resolvePassphrase({ passphraseFile: config.passphraseFile });
    } catch (cause) {
      throw new ConfigurationError('encryption', 'is on, but no repository passphrase was given', 'Set DATAKEEP_REPO_PASSPHRASE (or DATAKEEP_REPO_PASSPHRASE_FILE, or passphraseFile in the backup config), or set encryption: false', { cause });
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
