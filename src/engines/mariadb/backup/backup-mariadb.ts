import { constants } from 'node:fs';
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Connection } from 'mariadb';
import type { BackupProgress } from '../../../backup/backup-types.js';
import type { BackupSummary, BackupType, Repository } from '../../../repository/repository-types.js';
import { archiveBinlog } from './archive-binlog.js';
import { parseBackupInfo } from './backup-info.js';
import { fileKey, seqOfBinlogFile } from './binlog-pieces.js';
import { MariadbBackupError } from './mariadb-backup-error.js';
import { openServerSession, withOptionFile, type MariadbServerAccess } from './mariadb-server-access.js';
import { startTool } from './run-tool.js';
import { storeStream } from './store-stream.js';

export const ENGINE = 'mariadb';

export interface MariadbBackupOptions {
  readonly access: MariadbServerAccess;
  readonly repository: Repository;
  /** The datakeep database id the backup is recorded under. */
  readonly database: string;
  readonly type: BackupType;
  /** Segments of the stream stored in parallel (default 2; the manager passes the repository's worker count). */
  readonly workers?: number;
  /** Bound on mariadb-backup's run (default 6 h). */
  readonly timeoutMs?: number;
  readonly onProgress?: (progress: BackupProgress) => void;
  readonly signal?: AbortSignal;
}

export interface MariadbBackupResult {
  readonly backupId: string;
  readonly type: BackupType;
  readonly parent: string | undefined;
  readonly sizeBytes: number;
  readonly storedBytes: number;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly binlog: { file: string; position: number; gtid: string | undefined } | undefined;
  /** Binlog pieces stored after the copy (from the backup's own binlog file on). */
  readonly binlogPieces: number;
  /** ISO time at or after the copy's consistency point (taken when mariadb-backup returned). */
  readonly consistentAt: string;
}

/**
 * A physical backup with mariadb-backup, streamed (`--stream=mbstream`) straight into the repository's chunker: no
 * copy of the data on local disk. An incremental is taken against its parent's checkpoint LSN (the parent's
 * xtrabackup_checkpoints, kept in its manifest); a differential against the newest full. The binlog position the copy
 * is consistent with is recorded, and the binlog from that file on is archived before the backup is completed, so a
 * visible backup can always be rolled forward from its own position.
 */
export async function backupMariadb(options: MariadbBackupOptions): Promise<MariadbBackupResult> {
  const { repository, database, type } = options;
  const session = await openServerSession(options.access);
  let writer: Awaited<ReturnType<Repository['beginBackup']>> | undefined;
  const scratch = await mkdtemp(join(tmpdir(), 'datakeep-mariabackup-'));
  try {
    const server = await serverFacts(session);
    const parent = type === 'full' ? undefined : chooseParent(await repository.list(), database, type);
    const parentCheckpoints = parent === undefined ? undefined : (await repository.manifest(parent.backupId)).blobs.xtrabackup_checkpoints;
    if (parent !== undefined && parentCheckpoints === undefined) throw new MariadbBackupError('backup-not-found', `backup ${parent.backupId} has no checkpoint LSN to build an ${type} on; take a full backup`);
    writer = await repository.beginBackup({ type, parent: parent?.backupId, database });
    const progress = (phase: BackupProgress['phase'], bytesDone: number, bytesStored = 0) => options.onProgress?.({ backupId: writer!.backupId, phase, filesTotal: 1, filesDone: phase === 'completing' ? 1 : 0, filesReused: 0, bytesTotal: 0, bytesDone, bytesStored });
    progress('starting', 0);
    const lsnDir = join(scratch, 'lsn');
    const baseDir = join(scratch, 'base');
    const args = ['--backup', '--stream=mbstream', `--datadir=${server.dataDirectory}`, `--extra-lsndir=${lsnDir}`, `--target-dir=${lsnDir}`];
    if (parentCheckpoints !== undefined) {
      await mkdir(baseDir);
      await writeFile(join(baseDir, 'xtrabackup_checkpoints'), parentCheckpoints);
      args.push(`--incremental-basedir=${baseDir}`);
    }
    let bytes = 0;
    const stored = await withOptionFile(options.access, async (optionFile) => {
      const tool = startTool('mariadb-backup', [`--defaults-extra-file=${optionFile}`, ...args], { what: `${type} backup of ${database}`, timeoutMs: options.timeoutMs ?? 6 * 3600_000, signal: options.signal });
      tool.stdout.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      const timer = setInterval(() => progress('copying', bytes), 1000);
      try {
        const [result] = await Promise.all([storeStream(writer!, tool.stdout, options.workers ?? 2, Date.now()), tool.done]);
        return result;
      } catch (error) {
        tool.kill();
        await tool.done.catch(() => undefined);
        throw error;
      } finally {
        clearInterval(timer);
      }
    });
    progress('completing', stored.bytes);
    const [checkpoints, infoText] = await Promise.all([readFile(join(lsnDir, 'xtrabackup_checkpoints'), 'utf8'), readFile(join(lsnDir, 'xtrabackup_info'), 'utf8')]);
    const info = parseBackupInfo(checkpoints, infoText);
    writer.addBlob('xtrabackup_checkpoints', checkpoints);
    writer.addBlob('xtrabackup_info', infoText);
    // The copy is consistent at a moment before mariadb-backup returned: a target at or after this instant can start from it.
    const consistentAt = new Date().toISOString();
    const binlogSeq = info.binlog ? seqOfBinlogFile(info.binlog.file) : undefined;
    const archived = binlogSeq === undefined ? undefined : await archiveBinlog({ session, repository, fromSeq: binlogSeq, signal: options.signal });
    writer.setMetadata({
      engine: ENGINE, method: 'mariadb-backup', serverVersion: server.version, dataDirectory: server.dataDirectory,
      fromLsn: info.fromLsn, toLsn: info.toLsn, consistentAt,
      binlogFile: info.binlog?.file, binlogPosition: info.binlog?.position, gtid: info.binlog?.gtid,
      // The copy needs no binlog to be consistent (mariadb-backup copied the redo log); a roll-forward from it needs the
      // binlog from its own file on, which retention keeps (the manager reads `firstLog` as the first log item kept).
      walSegments: [],
      firstLog: binlogSeq === undefined ? undefined : fileKey(binlogSeq),
      binlogLost: archived?.lost ?? [],
    });
    const manifest = await writer.complete();
    writer = undefined;
    return {
      backupId: manifest.backupId, type, parent: parent?.backupId, sizeBytes: manifest.sizeBytes, storedBytes: manifest.storedBytes,
      startedAt: manifest.startedAt, finishedAt: manifest.finishedAt, binlog: info.binlog, binlogPieces: archived?.stored.length ?? 0, consistentAt,
    };
  } catch (error) {
    await writer?.abort().catch(() => undefined);
    throw error;
  } finally {
    await session.end().catch(() => undefined);
    await rm(scratch, { recursive: true, force: true });
  }
}

/** The parent of an incremental (the newest backup of the database) or a differential (the newest full). */
export function chooseParent(summaries: readonly BackupSummary[], database: string, type: BackupType): BackupSummary {
  const mine = summaries.filter((s) => s.database === database && s.metadata.engine === ENGINE);
  const parent = type === 'differential' ? mine.filter((s) => s.type === 'full').at(-1) : mine.at(-1);
  if (!parent) throw new MariadbBackupError('backup-not-found', `an ${type} backup of ${database} needs a full backup to build on, and the repository has none; take a full backup first`);
  return parent;
}

async function serverFacts(session: Connection): Promise<{ version: string; dataDirectory: string }> {
  const [row] = await session.query<{ version: string; datadir: string }[]>('SELECT VERSION() AS version, @@datadir AS datadir');
  const version = String(row?.version ?? '');
  if (!/mariadb/i.test(version)) {
    throw new MariadbBackupError('backup-failed', `the server is ${version || 'not MariaDB'}: mariadb-backup copies MariaDB servers only (MySQL 8's redo log format differs); back MySQL up with Percona XtraBackup or a logical dump`);
  }
  const dataDirectory = String(row!.datadir);
  try {
    await access(dataDirectory, constants.R_OK | constants.X_OK);
  } catch (cause) {
    throw new MariadbBackupError('backup-failed', `cannot read the server's data directory ${dataDirectory}: mariadb-backup copies it from the database host, so datakeep must run there as root or the mysql user; nothing was backed up`, { cause });
  }
  return { version, dataDirectory };
}
