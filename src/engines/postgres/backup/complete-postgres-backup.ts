import type { BackupWriter, Repository } from '../../../repository/repository-types.js';
import { parseBackupLabel } from './backup-label.js';
import type { PageDeltaRecord } from './page-delta.js';
import { PostgresBackupError } from './postgres-backup-error.js';
import type { PostgresBackupProgress, PostgresBackupResult } from './postgres-backup-result.js';
import type { ServerFacts } from './server-facts.js';
import { waitForWal } from './wait-for-wal.js';
import { parseLsn, segmentsForBackup } from './wal-position.js';

export interface CompletePostgresBackupInput {
  repository: Repository;
  writer: BackupWriter;
  facts: ServerFacts;
  labelFile: string;
  tablespaceMap: string;
  stopLsn: string;
  /** Server clock right after the stop: a recovery target must be later than this to be reachable from the backup. */
  stopTime: string;
  walTimeoutMs: number;
  /** The server's data directory when readable here: finished segments are then pushed from pg_wal directly. */
  dataDirectory?: string;
  progress: (update: Partial<PostgresBackupProgress> & Pick<PostgresBackupProgress, 'phase'>) => void;
  signal?: AbortSignal;
  metadata: Record<string, unknown>;
}

/**
 * The last step shared by both backup methods: wait until the repository's archive holds every WAL segment from the
 * start to the stop LSN (a base backup without them cannot even become consistent), then record the label, the
 * tablespace map and the facts restore and retention need, and write the completion marker. Throws 'wal-missing'
 * naming the segments when the archive does not catch up in time; the caller aborts the writer.
 */
export async function completePostgresBackup(input: CompletePostgresBackupInput): Promise<PostgresBackupResult> {
  const { facts, writer } = input;
  const label = parseBackupLabel(input.labelFile);
  const walSegments = segmentsForBackup(label.timeline, parseLsn(label.startLsn), parseLsn(input.stopLsn), facts.walSegmentSize);
  input.progress({ phase: 'waiting-for-wal' });
  const missing = await waitForWal(input.repository, walSegments, input.walTimeoutMs, {
    signal: input.signal, dataDirectory: input.dataDirectory, onWait: (walWaiting) => input.progress({ phase: 'waiting-for-wal', walWaiting }),
  });
  if (missing.length > 0) {
    throw new PostgresBackupError('wal-missing',
      `the backup's WAL did not reach the repository within ${input.walTimeoutMs} ms: missing ${missing.join(', ')}; ` +
      `check that archive_command is 'datakeep wal push %p' for this repository and that it succeeds (server log, pg_stat_archiver)`,
      { items: missing });
  }
  input.progress({ phase: 'completing' });
  writer.addBlob('backup_label', input.labelFile);
  if (input.tablespaceMap !== '') writer.addBlob('tablespace_map', input.tablespaceMap);
  writer.setMetadata({
    engine: 'postgresql',
    serverVersion: facts.version,
    serverVersionNum: facts.versionNum,
    systemIdentifier: facts.systemIdentifier,
    walSegmentSize: facts.walSegmentSize,
    blockSize: facts.blockSize,
    timeline: label.timeline,
    startLsn: label.startLsn,
    checkpointLsn: label.checkpointLsn,
    stopLsn: input.stopLsn,
    stopTime: input.stopTime,
    walSegments,
    ...input.metadata,
  });
  const manifest = await writer.complete();
  // Files stored as page deltas count with their real size, as the restore writes them.
  const deltas = (manifest.metadata.pageDeltas as Record<string, PageDeltaRecord> | undefined) ?? {};
  const sizeBytes = manifest.files.reduce((sum, f) => sum + (deltas[f.path]?.size ?? f.size), 0);
  return {
    backupId: manifest.backupId,
    type: manifest.type,
    parent: manifest.parent,
    startedAt: manifest.startedAt,
    finishedAt: manifest.finishedAt,
    sizeBytes,
    storedBytes: manifest.storedBytes,
    startLsn: label.startLsn,
    stopLsn: input.stopLsn,
    timeline: label.timeline,
    walSegments,
    manifest,
  };
}
