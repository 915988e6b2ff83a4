import type { DatabaseAdapter } from '../../../adapters/database-adapter.js';
import type { LogArchiveStatus } from '../../../backup/backup-driver.js';
import type { Repository } from '../../../repository/repository-types.js';
import { asSqlAdapter } from '../../sql/as-sql-adapter.js';
import { walkArchivedWal } from './archived-wal-path.js';
import { backupsOf, segmentSizeOf } from './recoverability-window.js';
import { TimelineHistory } from './timeline-history.js';
import { parseLsn, parseSegmentName } from './wal-position.js';

type ArchiverRow = {
  mode: string;
  last_archived_wal: string | null;
  last_archived_time: Date | null;
  failed_count: string | number;
  last_failed_wal: string | null;
  last_failed_time: Date | null;
  current: string | null;
};

/**
 * The server's archiver from pg_stat_archiver, and the repository's archive walked from the newest backup the way
 * recovery reads it: where the unbroken run ends, whether segments exist beyond its first missing one (a gap: a
 * segment lost, deleted, or never pushed), and how many finished segments have not reached the repository yet.
 */
export async function postgresArchiveStatus(input: { adapter: DatabaseAdapter; repository: Repository; database: string }): Promise<LogArchiveStatus> {
  const row = await asSqlAdapter(input.adapter).query<ArchiverRow>(
    `SELECT current_setting('archive_mode') AS mode, last_archived_wal, last_archived_time, failed_count, last_failed_wal, last_failed_time,
            CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_walfile_name(pg_current_wal_lsn()) END AS current
       FROM pg_stat_archiver`,
  ).then((rows) => rows[0]).catch(() => undefined);
  const backups = backupsOf(await input.repository.list(), input.database);
  const newest = backups.at(-1);
  const segmentSize = segmentSizeOf(backups);
  let archivedEnd: string | undefined;
  let gap: LogArchiveStatus['gap'];
  if (newest && typeof newest.metadata.startLsn === 'string') {
    const history = await TimelineHistory.load(input.repository, Number(newest.metadata.timeline ?? 1));
    const path = await walkArchivedWal(input.repository, history, parseLsn(newest.metadata.startLsn), segmentSize);
    archivedEnd = path.segments.filter((s) => !s.snapshot).at(-1)?.name;
    const missing = path.firstMissing === undefined ? undefined : parseSegmentName(path.firstMissing, segmentSize);
    if (missing) {
      const later = (await input.repository.listWal()).map((name) => parseSegmentName(name, segmentSize)).filter((s) => s !== undefined && s.segment > missing.segment && s.timeline >= missing.timeline);
      if (later.length > 0) gap = { missing: path.firstMissing!, laterArchived: later.length };
    }
  }
  const current = row?.current ?? undefined;
  const currentSegment = current === undefined ? undefined : parseSegmentName(current, segmentSize)?.segment;
  const endSegment = archivedEnd === undefined ? undefined : parseSegmentName(archivedEnd, segmentSize)?.segment;
  return {
    archiving: row === undefined ? true : row.mode !== 'off',
    archiver: row && {
      lastArchived: row.last_archived_wal ?? undefined,
      lastArchivedAt: row.last_archived_time ?? undefined,
      lastFailed: row.last_failed_wal ?? undefined,
      lastFailedAt: row.last_failed_time ?? undefined,
      failures: Number(row.failed_count),
    },
    current,
    archivedEnd,
    // The segment being written is not finished, so it cannot be archived yet.
    behind: currentSegment === undefined || endSegment === undefined ? undefined : Math.max(0, Number(currentSegment - endSegment) - 1),
    gap,
  };
}
