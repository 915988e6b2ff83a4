import type { BackupSummary } from '../../repository/repository-types.js';

/**
 * The base backup for a point-in-time restore: the newest completed backup that was consistent before `time` (its
 * stop time, recorded from the server's clock right after pg_backup_stop; else its finish time). Older backups reach
 * the same point with more WAL to replay; a newer one cannot go back in time. Undefined when no backup is old enough.
 */
export function pickBackupForTime(summaries: readonly BackupSummary[], time: Date | string, database?: string): BackupSummary | undefined {
  const target = new Date(time).getTime();
  if (Number.isNaN(target)) throw new RangeError(`"${String(time)}" is not a date; give an ISO 8601 time such as 2026-01-31T14:05:00Z`);
  const consistentAt = (s: BackupSummary) => new Date(typeof s.metadata.stopTime === 'string' ? s.metadata.stopTime : s.finishedAt).getTime();
  return summaries
    .filter((s) => (database === undefined || s.database === database) && consistentAt(s) < target)
    .sort((a, b) => consistentAt(a) - consistentAt(b))
    .at(-1);
}
