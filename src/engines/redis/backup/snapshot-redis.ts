import type { BackupProgress } from '../../../backup/backup-types.js';
import type { BackupManifest, Repository } from '../../../repository/repository-types.js';
import { RedisBackupError } from './redis-backup-error.js';
import type { ReplicationLink, SyncStart } from './replication-link.js';
import { encodeSegment, segmentName } from './stream-segment.js';

/** The RDB's name inside a backup. */
export const RDB_FILE = 'dump.rdb';

/** What a Redis backup records in its metadata (read back by restore, window, verify). */
export interface RedisBackupFacts {
  readonly engine: 'redis';
  readonly method: 'replication-protocol';
  /** The master's replication id and offset at the snapshot (PSYNC's +FULLRESYNC): the stream continues from there. */
  readonly replid: string;
  readonly offset: number;
  /** When +FULLRESYNC arrived (local clock): the snapshot's consistency point. */
  readonly consistentAt: string;
  /** The empty stream segment marking the backup's place in the log (retention keeps the log from here). */
  readonly walSegments: readonly string[];
}

export function redisFacts(metadata: Readonly<Record<string, unknown>>): RedisBackupFacts | undefined {
  return metadata.engine === 'redis' && typeof metadata.replid === 'string' && typeof metadata.offset === 'number' ? metadata as unknown as RedisBackupFacts : undefined;
}

/**
 * Streams the RDB of a full resynchronisation into a new backup (never held in memory), then writes the empty
 * segment that marks its place in the stream, then completes it. On any failure the backup is aborted: the repository
 * shows no trace of it.
 */
export async function storeSnapshot(input: {
  repository: Repository;
  database: string;
  link: ReplicationLink;
  start: Extract<SyncStart, { kind: 'full' }>;
  onProgress?: (progress: BackupProgress) => void;
  signal?: AbortSignal;
}): Promise<BackupManifest> {
  const { repository, database, link, start } = input;
  const writer = await repository.beginBackup({ type: 'full', database });
  const progress = (phase: BackupProgress['phase'], done: number) => input.onProgress?.({ backupId: writer.backupId, phase, filesTotal: 1, filesDone: phase === 'completing' ? 1 : 0, filesReused: 0, bytesTotal: start.size ?? 0, bytesDone: done, bytesStored: 0 });
  const abort = () => start.rdb.destroy(new RedisBackupError('connection-failed', 'the backup was aborted'));
  input.signal?.addEventListener('abort', abort, { once: true });
  try {
    progress('copying', 0);
    const entry = await writer.addFile(RDB_FILE, start.rdb, { size: start.size ?? Number.POSITIVE_INFINITY, mtimeMs: start.at.getTime(), mode: 0o600 });
    if (start.size !== undefined && entry.size !== start.size) throw new RedisBackupError('protocol', `the RDB announced ${start.size} bytes and ${entry.size} arrived`);
    input.signal?.throwIfAborted();
    const marker = segmentName(start.at.getTime(), start.replid, start.offset, start.offset);
    await repository.putWal(marker, encodeSegment({ replid: start.replid, start: start.offset, end: start.offset, coveredUntil: start.at.getTime(), batches: 0 }, []));
    const facts: RedisBackupFacts = { engine: 'redis', method: 'replication-protocol', replid: start.replid, offset: start.offset, consistentAt: start.at.toISOString(), walSegments: [marker] };
    writer.setMetadata({ ...facts, rdbBytes: entry.size });
    progress('completing', entry.size);
    return await writer.complete();
  } catch (error) {
    await writer.abort();
    link.close();
    if (error instanceof RedisBackupError) throw error;
    const cause = (error as { cause?: unknown }).cause;
    if (cause instanceof RedisBackupError) throw cause;
    throw new RedisBackupError('connection-failed', `the RDB of ${database} could not be stored: ${(error as Error).message}`, { cause: error });
  } finally {
    input.signal?.removeEventListener('abort', abort);
  }
}
