import type { BackupSummary, Repository } from '../../../repository/repository-types.js';
import { walkArchivedWal, type ArchivedWalPath } from './archived-wal-path.js';
import { consistentAtMicros } from './choose-restore-base.js';
import { TimelineHistory } from './timeline-history.js';
import { openWalRecordReader, type WalStopRecord } from './wal-records.js';
import { formatLsn, parseLsn } from './wal-position.js';

export type { RecoverabilityWindow } from '../../../backup/backup-types.js';
import type { RecoverabilityWindow } from '../../../backup/backup-types.js';

/** The physical backups of `database` (logical ones, in the same repository, have no place in WAL recovery). */
export function backupsOf(summaries: readonly BackupSummary[], database: string): BackupSummary[] {
  return summaries.filter((s) => s.database === database && s.metadata.method !== 'logical');
}

export function segmentSizeOf(summaries: readonly BackupSummary[]): number {
  return Number(summaries.find((s) => typeof s.metadata.walSegmentSize === 'number')?.metadata.walSegmentSize ?? 16 * 1024 * 1024);
}

export function serverMajorOf(summaries: readonly BackupSummary[]): number {
  const num = Number(summaries.find((s) => typeof s.metadata.serverVersionNum === 'number')?.metadata.serverVersionNum ?? 150000);
  return Math.floor(num / 10000);
}

/**
 * The newest transaction end of an archived run, read with pg_waldump from the end backwards (an idle server that
 * switches segments on archive_timeout leaves many without a commit, so there is no fixed bound but `after`).
 */
export async function lastTransactionEnd(repository: Repository, path: ArchivedWalPath, segmentSize: number, serverMajor: number, after?: bigint): Promise<WalStopRecord | undefined> {
  const reader = await openWalRecordReader(repository, { segmentSize, serverMajor });
  try {
    const newestFirst = [...path.segments].reverse();
    for (const { segment, timeline } of newestFirst) {
      if (after !== undefined && (segment + 1n) * BigInt(segmentSize) <= after) break;
      const ends = (await reader.segment(timeline, segment)).filter((r) => r.kind !== 'restore-point' && (after === undefined || r.lsn >= after));
      const last = ends.at(-1);
      if (last) return last;
    }
    return undefined;
  } finally {
    await reader.close();
  }
}

/**
 * The recoverability window on `timeline` (default: the newest backup's): from the oldest backup on its history to the
 * last transaction end of the unbroken archive that follows it.
 */
export async function recoverabilityWindow(repository: Repository, database: string, options: { timeline?: number } = {}): Promise<RecoverabilityWindow> {
  const backups = backupsOf(await repository.list(), database);
  const newest = backups.at(-1);
  const timeline = options.timeline ?? (typeof newest?.metadata.timeline === 'number' ? newest.metadata.timeline : 1);
  const history = await TimelineHistory.load(repository, timeline);
  const usable = backups.filter((b) => typeof b.metadata.startLsn === 'string' && history.reaches(Number(b.metadata.timeline ?? 1), parseLsn(String(b.metadata.stopLsn ?? b.metadata.startLsn))));
  const oldest = usable.sort((a, b) => Number(consistentAtMicros(a) - consistentAtMicros(b)))[0];
  if (!oldest) return { database, timeline, from: undefined, to: undefined, firstMissingWal: undefined, backups: backups.length };
  const segmentSize = segmentSizeOf(backups);
  const path = await walkArchivedWal(repository, history, parseLsn(String(oldest.metadata.startLsn)), segmentSize);
  const last = path.segments.at(-1);
  const end = last ? await lastTransactionEnd(repository, path, segmentSize, serverMajorOf(backups)) : undefined;
  return {
    database,
    timeline,
    // The instant a restore is sure to reach: the stop time rounded up to the next millisecond, as the planner uses.
    from: { time: microsToIso(consistentAtMicros(oldest)), lsn: typeof oldest.metadata.stopLsn === 'string' ? oldest.metadata.stopLsn : undefined, backupId: oldest.backupId },
    to: last ? { time: end?.timeMicros === undefined ? undefined : microsToIso(end.timeMicros), lsn: formatLsn((last.segment + 1n) * BigInt(segmentSize)), segment: last.name } : undefined,
    firstMissingWal: path.firstMissing,
    backups: backups.length,
  };
}

/** ISO 8601 UTC with microseconds when they are not zero. */
export function microsToIso(micros: bigint): string {
  const ms = micros / 1000n;
  const rest = Number(micros % 1000n);
  const iso = new Date(Number(ms)).toISOString();
  return rest === 0 ? iso : iso.replace('Z', `${String(rest).padStart(3, '0')}Z`);
}
