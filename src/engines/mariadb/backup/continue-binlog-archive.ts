import type { LogCaptureInput } from '../../../backup/log-capture-types.js';
import { sleep } from '../../../resilience/backoff.js';
import type { Repository } from '../../../repository/repository-types.js';
import { archiveBinlog } from './archive-binlog.js';
import { seqOfBinlogFile, seqOfFileKey } from './binlog-pieces.js';
import { MariadbBackupError } from './mariadb-backup-error.js';
import { openServerSession, type MariadbServerAccess } from './mariadb-server-access.js';

/** How often the binlog is archived by default: the writes at risk if the database host is lost. */
const DEFAULT_INTERVAL_MS = 10_000;

/**
 * MariaDB's continuous log capture (BackupDriver.captureLog): archiveBinlog every `intervalMs` from the newest
 * backup's binlog file, each pass storing the bytes the server reports written since the last one (so a pass that
 * began at T stores every transaction committed before T). When stopped while waiting, one last pass stores what was
 * written meanwhile; a pass cut short by the stop leaves whole pieces, and the next run continues from them. A server
 * that is down or restarted fails the run (the caller starts it again); after a restart the server writes a new
 * binlog file, and the old one is archived to its end and marked final.
 */
export async function continueBinlogArchive(input: LogCaptureInput & { access: MariadbServerAccess }): Promise<void> {
  const { repository, database, signal, onProgress } = input;
  const fromSeq = await firstBinlogSeq(repository, database);
  const session = await openServerSession(input.access);
  // A server that goes away while the capture waits closes the idle session with an 'error' event: without a
  // listener that would crash the process; the next pass's query fails instead, and the capture is started again.
  session.on('error', () => undefined);
  let stored = 0;
  try {
    let last = false;
    while (!last) {
      last = signal.aborted;
      const began = new Date();
      let result;
      try {
        result = await archiveBinlog({ session, repository, fromSeq, signal: last ? undefined : signal });
      } catch (error) {
        if (signal.aborted && !last) return;
        throw error;
      }
      if (!result.end) throw new MariadbBackupError('backup-failed', `the server at ${input.access.host}:${input.access.port} writes no binlog (log_bin is off): there is nothing to capture; turn log_bin on for point-in-time restores`);
      stored += result.stored.length;
      const note = result.lost.length ? `binlog file(s) ${result.lost.join(', ')} were purged by the server before they were archived: point-in-time restores stop before them until the next backup` : undefined;
      onProgress({ position: `${result.end.file}:${result.end.offset}`, coveredUntil: began, stored, note });
      if (!last) await sleep(input.intervalMs ?? DEFAULT_INTERVAL_MS, signal);
    }
  } finally {
    await session.end().catch(() => undefined);
  }
}

/** The binlog file of the newest backup: where its roll-forward starts, so the archive must reach from there. */
async function firstBinlogSeq(repository: Repository, database: string): Promise<number> {
  const newest = (await repository.list()).filter((b) => b.database === database && (typeof b.metadata.firstLog === 'string' || typeof b.metadata.binlogFile === 'string')).at(-1);
  if (!newest) {
    throw new MariadbBackupError('backup-not-found', `the repository holds no backup of ${database} with a binlog position yet: the binlog capture continues from a backup; take one (datakeep backup create), and the capture starts on its own`);
  }
  const fromKey = typeof newest.metadata.firstLog === 'string' ? seqOfFileKey(newest.metadata.firstLog) : undefined;
  return fromKey ?? seqOfBinlogFile(String(newest.metadata.binlogFile));
}
