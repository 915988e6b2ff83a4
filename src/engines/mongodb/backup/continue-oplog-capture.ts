import type { LogCaptureInput } from '../../../backup/log-capture-types.js';
import type { Repository } from '../../../repository/repository-types.js';
import { openBackupClient } from './backup-client.js';
import { captureOplog } from './capture-oplog.js';
import { MongodbBackupError } from './mongodb-backup-error.js';
import { chainFrom, listOplogSlices } from './oplog-chain.js';
import { compareOplogTime, formatOplogTime, oplogTimeDate, parseOplogTime, type OplogTime } from './oplog-timestamp.js';

/** Slices are written at least this often while tailing (Percona Backup for MongoDB's default is 10 minutes). */
const DEFAULT_SLICE_MS = 10_000;

/**
 * MongoDB's continuous log capture (BackupDriver.captureLog): tails the oplog from the newest position the repository
 * holds (the end of the unbroken slice chain from the newest backup's oplog start) and writes a slice every
 * `intervalMs`, until aborted. A new capture always continues where the last stored slice ends, so a server restart
 * or a lost connection costs nothing the oplog still holds; an oplog that rolled past that position fails with
 * 'oplog-gap' (a new full backup is needed).
 */
export async function continueOplogCapture(input: LogCaptureInput): Promise<void> {
  const { repository, database, signal, onProgress } = input;
  const after = await capturedEnd(repository, database);
  const { client, database: source } = await openBackupClient(input.config);
  try {
    await captureOplog({
      client, database: source, repository, after, signal, maxSliceMs: input.intervalMs ?? DEFAULT_SLICE_MS,
      onProgress: ({ last, slices, caughtUpAt }) => onProgress({ position: formatOplogTime(last), coveredUntil: caughtUpAt === undefined ? oplogTimeDate(last) : new Date(caughtUpAt), stored: slices }),
    });
  } finally {
    await client.close().catch(() => undefined);
  }
}

/** Where a capture continues: the end of the slice chain from the newest backup that has an oplog position. */
async function capturedEnd(repository: Repository, database: string): Promise<OplogTime> {
  const backups = (await repository.list()).filter((b) => b.database === database);
  const newest = backups.filter((b) => typeof b.metadata.oplogStart === 'string').at(-1);
  if (newest === undefined) {
    throw new MongodbBackupError('backup-not-found', backups.length === 0
      ? `the repository holds no backup of ${database} yet: the oplog capture continues from a backup; take one (datakeep backup create), and the capture starts on its own`
      : `the backups of ${database} carry no oplog position (the server had no oplog when they ran): nothing to continue; MongoDB needs a replica set (or FerretDB's local.oplog.rs) for point-in-time restores`);
  }
  const start = parseOplogTime(String(newest.metadata.oplogStart))!;
  const end = typeof newest.metadata.oplogEnd === 'string' ? parseOplogTime(newest.metadata.oplogEnd) : undefined;
  const chain = chainFrom(await listOplogSlices(repository), start);
  return end !== undefined && compareOplogTime(end, chain.end) > 0 ? end : chain.end;
}
