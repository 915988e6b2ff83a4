import type { RecoverabilityWindow } from '../../../backup/backup-types.js';
import type { BackupSummary, Repository } from '../../../repository/repository-types.js';
import { lastTransactionEnd, walkEvents } from './binlog-events.js';
import { archivedRun, piecesByFile, seqOfBinlogFile, type ArchivedRun, type BinlogPiece } from './binlog-pieces.js';

/** The database's backups made by this driver, oldest consistency point first. */
export function mariadbBackups(summaries: readonly BackupSummary[], database: string): BackupSummary[] {
  return summaries.filter((s) => s.database === database && s.metadata.engine === 'mariadb')
    .sort((a, b) => consistentAt(a).localeCompare(consistentAt(b)));
}

/** When a backup's copy is consistent at the latest (a target at or after it can start from the backup). */
export function consistentAt(summary: BackupSummary): string {
  return typeof summary.metadata.consistentAt === 'string' ? summary.metadata.consistentAt : summary.finishedAt;
}

export function binlogSeqOf(summary: BackupSummary): number | undefined {
  return typeof summary.metadata.binlogFile === 'string' ? seqOfBinlogFile(summary.metadata.binlogFile) : undefined;
}

/** The unbroken archived binlog run starting at a backup's own binlog file. */
export async function runFrom(repository: Repository, summary: BackupSummary): Promise<ArchivedRun | undefined> {
  const seq = binlogSeqOf(summary);
  return seq === undefined ? undefined : archivedRun(piecesByFile(await repository.listWal()), seq);
}

/** The time (whole seconds since the epoch) of the last transaction end in `pieces`, read from the newest piece backwards. */
export async function lastEventTime(repository: Repository, pieces: readonly BinlogPiece[], after?: { seq: number; position: number }): Promise<number | undefined> {
  for (let i = pieces.length - 1; i >= 0; i--) {
    const piece = pieces[i]!;
    if (after && (piece.seq < after.seq || (piece.seq === after.seq && piece.end <= after.position))) return undefined;
    if (piece.end === piece.start) continue;
    const content = await repository.getWal(piece.name);
    if (!content) return undefined;
    const events = walkEvents(content, piece.start).events.filter((e) => !after || piece.seq > after.seq || e.offset >= after.position);
    const time = lastTransactionEnd(events);
    if (time !== undefined) return time;
  }
  return undefined;
}

/**
 * From the oldest backup's consistency point to the end of the second before the last archived transaction's: the
 * last instant an (inclusive) restore reproduces whole, as the binlog stamps whole seconds and the archive may end
 * within the last one.
 */
export async function mariadbWindow(repository: Repository, database: string): Promise<RecoverabilityWindow> {
  const backups = mariadbBackups(await repository.list(), database);
  const oldest = backups[0];
  if (!oldest) return { database, timeline: 1, from: undefined, to: undefined, firstMissingWal: undefined, backups: 0 };
  const from = { time: consistentAt(oldest), lsn: typeof oldest.metadata.toLsn === 'string' ? oldest.metadata.toLsn : undefined, backupId: oldest.backupId };
  const run = await runFrom(repository, oldest);
  const last = run?.pieces.at(-1);
  if (!run || !last) return { database, timeline: 1, from, to: undefined, firstMissingWal: run?.gap?.missing, backups: backups.length };
  const position = typeof oldest.metadata.binlogPosition === 'number' ? oldest.metadata.binlogPosition : 0;
  const time = await lastEventTime(repository, run.pieces, { seq: binlogSeqOf(oldest)!, position });
  return {
    database, timeline: 1, from,
    to: { time: time === undefined ? undefined : new Date(time * 1000 - 1).toISOString(), lsn: `${last.seq}:${last.end}`, segment: last.name },
    firstMissingWal: run.gap?.missing,
    backups: backups.length,
  };
}
