import { constants, existsSync } from 'node:fs';
import { access, chown, mkdir, readdir, realpath, stat } from 'node:fs/promises';
import { join, resolve as resolvePath } from 'node:path';
import type { DatabaseAdapter } from '../../../adapters/database-adapter.js';
import type { BackupDriver, BackupSource, PreparedBackup, RestoreRequest } from '../../../backup/backup-driver.js';
import type { RestoreResult } from '../../../backup/backup-types.js';
import { chownTree } from '../../../backup/repository-set.js';
import { walOrder } from '../../../backup/retention-policy.js';
import { UsageError } from '../../../errors/index.js';
import { initRepository } from '../../../repository/index.js';
import type { BackupSummary, Repository } from '../../../repository/repository-types.js';
import { asSqlAdapter } from '../../sql/as-sql-adapter.js';
import { walkArchivedWal } from './archived-wal-path.js';
import { postgresArchiveStatus } from './archive-status.js';
import { backupPostgres } from './backup-postgres.js';
import { backupPostgresStream } from './backup-postgres-stream.js';
import { checkCommandReachable } from './check-command-reachable.js';
import { drillPostgres } from './drill-postgres.js';
import { recoverabilityWindow, segmentSizeOf } from './recoverability-window.js';
import { restorePostgres } from './restore-postgres.js';
import { walGetCommand, walPushCommand, datakeepForServer } from './wal-commands-for-server.js';
import { serverOsUser } from './server-os-user.js';
import { startCommandFor } from './start-restored-cluster.js';
import { TimelineHistory } from './timeline-history.js';
import { drillLogical } from '../logical/drill-logical.js';
import { logicalBackupFor, logicalWindow, restoreLogicalRequest } from '../logical/logical-driver-parts.js';
import { prepareLogicalPostgres } from '../logical/prepare-logical-postgres.js';
import { parseLsn } from './wal-position.js';

/**
 * PostgreSQL's physical backups: the data directory (read directly when datakeep runs on the database host, else over
 * the replication protocol) plus the WAL archive that archive_command feeds into the same repository; restores with
 * point-in-time targets, the recoverability window, WAL verification and expiry, and restore drills.
 */
export const postgresBackupDriver: BackupDriver = {
  engine: 'postgresql',

  async prepare({ adapter, config, method }: BackupSource): Promise<PreparedBackup> {
    if (method === 'logical') return prepareLogicalPostgres(adapter.id, config);
    const connection = asSqlAdapter(adapter);
    const dataDirectory = await readableDataDirectory(connection);
    // The server's archiver (archive_command, running as the data directory's owner) writes WAL into the repository.
    const owner = dataDirectory ? await stat(dataDirectory).then(({ uid, gid }) => ({ uid, gid })) : undefined;
    return {
      repositoryOwner: owner,
      backup: async (repository, { type, workers, walTimeoutMs, onProgress, signal }) => {
        const database = adapter.id;
        const result = dataDirectory
          ? await backupPostgres({ connection, dataDirectory, repository, type, database, workers, walTimeoutMs, onProgress, signal })
          : await backupPostgresStream({ host: config.host, port: config.port, user: config.username ?? 'postgres', password: config.password, repository, database, walTimeoutMs, onProgress, signal });
        return {
          backupId: result.backupId, type: result.type, method: dataDirectory ? 'data-directory' : 'replication-protocol',
          sizeBytes: result.sizeBytes, storedBytes: result.storedBytes, startedAt: new Date(result.startedAt), finishedAt: new Date(result.finishedAt), walSegments: result.walSegments.length,
          // pg_backup_stop's time: a target at or after it can start from this backup (a set member's consistency point).
          consistentAt: typeof result.manifest.metadata.stopTime === 'string' ? new Date(result.manifest.metadata.stopTime) : undefined,
        };
      },
    };
  },

  async restore(request: RestoreRequest): Promise<RestoreResult> {
    const logical = await logicalBackupFor(request);
    if (logical) return restoreLogicalRequest(request, logical);
    if (request.options.target !== undefined || request.options.tables !== undefined) {
      throw new UsageError('target', `backup ${request.backupId} is a physical backup: it restores into a data directory ("to"), whole; target and tables apply to logical backups`);
    }
    const { repository, repositoryPath, destination, database, backupId, options, passphrase } = request;
    const to = resolvePath(options.to ?? join(await restoresDirectory(destination), `${database}-${new Date().toISOString().replace(/[:.]/g, '')}`));
    // The restored server runs restore_command as its OS user: a datakeep it cannot read would fail at the first
    // segment, after the whole copy. Say so now.
    if (process.getuid?.() === 0) await checkCommandReachable(datakeepForServer(), 'postgres');
    const archive = options.archiveTo === undefined ? 'off' as const : await archiveForRestore(options.archiveTo, request.passphraseFile, repositoryPath, passphrase);
    const result = await restorePostgres({
      repository,
      backupId,
      database,
      to,
      // The server's OS user rarely can read the passphrase where datakeep got it (an environment variable, a file
      // of root's): the restore writes it into the data directory for that user, and recovery_end_command removes it.
      restoreCommand: ({ passphraseFile, prefetch }) => walGetCommand(repositoryPath, passphraseFile, prefetch),
      walPrefetch: options.walPrefetch,
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
    return {
      backupId: result.backupId, note: result.note, database, to: result.to, timeline: result.timeline, target: result.target,
      started: result.started, walSegmentsChecked: result.walSegmentsChecked, recoverySettings: result.recoverySettings,
      startCommand: startCommandFor(result.to),
    };
  },

  async verifyLog(repository: Repository, summary: BackupSummary) {
    if (typeof summary.metadata.startLsn !== 'string') return { segments: 0, endsAt: undefined, problem: undefined };
    const history = await TimelineHistory.load(repository, Number(summary.metadata.timeline ?? 1));
    try {
      const path = await walkArchivedWal(repository, history, parseLsn(String(summary.metadata.stopLsn ?? summary.metadata.startLsn)), segmentSizeOf([summary]), { authenticate: true });
      return { segments: path.segments.length, endsAt: path.segments.at(-1)?.name, problem: undefined };
    } catch (error) {
      const items = (error as { items?: readonly string[] }).items ?? [];
      return { segments: 0, endsAt: undefined, problem: { kind: 'corrupt-wal', backupId: summary.backupId, path: items[0] ?? 'wal', message: (error as Error).message } };
    }
  },

  window: async (repository, database, options) => logicalWindow(repository, database, await recoverabilityWindow(repository, database, options)),

  async expireLog(repository: Repository, before: string): Promise<number> {
    const boundary = walOrder(before);
    // Only segment files; timeline .history files are tiny and every restore may need them.
    const old = (await repository.listWal()).filter((name) => /^[0-9A-F]{24}$/.test(name) && walOrder(name) < boundary);
    await repository.deleteWal(old);
    return old.length;
  },

  archiveStatus: (input) => postgresArchiveStatus(input),

  drill: (input) => (input.window?.method === 'logical'
    ? drillLogical({ kind: input.kind, checks: input.checks, server: input.server, restore: input.restore })
    : drillPostgres({ kind: input.kind, target: input.target, checks: input.checks, restore: input.restore })),
};

/** The server's data directory when this process can read it (datakeep on the database host), else undefined. */
async function readableDataDirectory(adapter: DatabaseAdapter): Promise<string | undefined> {
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

/**
 * DESTINATION/restores, created so that the server's OS user can enter it: as root, a directory of root's with mode
 * 0700 would stop the restored server from opening its data directory.
 */
async function restoresDirectory(destination: string): Promise<string> {
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

/** The archive_command for a restored server that archives into a repository of its own (created when missing). */
async function archiveForRestore(archiveTo: string, passphraseFile: string | undefined, sourcePath: string, passphrase: string): Promise<{ archiveCommand: string }> {
  const target = resolvePath(archiveTo);
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
  if (!passphraseFile) throw new UsageError('archiveTo', 'needs passphraseFile (a file the server\'s OS user can read, kept after the restore) for the archive_command of the new repository');
  if (!existsSync(join(target, 'config'))) {
    const repository = await initRepository(target, { passphrase, compression: 'zstd' });
    await repository.close();
    if (process.getuid?.() === 0) {
      const user = serverOsUser();
      await chownTree(target, user.uid, user.gid);
    }
  }
  return { archiveCommand: walPushCommand(target, resolvePath(passphraseFile)) };
}
