import type { ClientSession, MongoClient } from 'mongodb';
import type { BackupProgress } from '../../../backup/backup-types.js';
import type { Repository } from '../../../repository/repository-types.js';
import { serverFacts } from './backup-client.js';
import { captureOplog, newestOplogTime } from './capture-oplog.js';
import { CATALOG_BLOB, encodeCatalog, readCatalog } from './collection-catalog.js';
import { collectionDocuments } from './collection-documents.js';
import { MongodbBackupError } from './mongodb-backup-error.js';
import { formatOplogTime, oplogTimeDate } from './oplog-timestamp.js';

export interface MongodbBackupOptions {
  readonly client: MongoClient;
  /** The database on the server. */
  readonly database: string;
  /** The datakeep database id (the repository's `database`). */
  readonly id: string;
  readonly repository: Repository;
  readonly onProgress?: (progress: BackupProgress) => void;
  readonly signal?: AbortSignal;
}

export interface MongodbBackupResult {
  readonly backupId: string;
  readonly sizeBytes: number;
  readonly storedBytes: number;
  readonly startedAt: Date;
  readonly finishedAt: Date;
  readonly slices: readonly string[];
  /** The oplog time the copy is consistent at (or the copy's end without an oplog). */
  readonly consistentAt: Date;
}

/** How a backup is consistent: see docs/mongodb-testing.md. */
export type MongodbConsistency = 'snapshot+oplog' | 'oplog' | 'none';

/** MongoDB's SnapshotTooOld: a snapshot read outlived the server's snapshot history window. */
const SNAPSHOT_TOO_OLD = 239;

/**
 * A logical backup of one database, as mongodump --oplog makes it, into the repository: per collection its documents
 * (raw BSON, streamed), its options and indexes (the catalog blob); then the oplog entries of the database written
 * between the start and the end of the copy, so that restore replays them and the result is the database as it was at
 * the end. On a replica set the collections are read from one snapshot (readConcern snapshot) as well, falling back
 * to plain reads for a collection whose read outlives the snapshot history window. Without an oplog (a standalone,
 * FerretDB without a capped local.oplog.rs) each collection is as it was when read: the metadata says 'none'.
 */
export async function backupMongodb(options: MongodbBackupOptions): Promise<MongodbBackupResult> {
  const { client, database, id, repository, signal } = options;
  const startedAt = new Date();
  const facts = await serverFacts(client);
  const start = await newestOplogTime(client);
  const writer = await repository.beginBackup({ type: 'full', database: id });
  let filesDone = 0;
  let bytesDone = 0;
  const progress = (phase: BackupProgress['phase'], filesTotal: number) => options.onProgress?.({ backupId: writer.backupId, phase, filesTotal, filesDone, filesReused: 0, bytesTotal: 0, bytesDone, bytesStored: 0 });
  let session: ClientSession | undefined;
  try {
    progress('starting', 0);
    const db = client.db(database);
    const catalog = await readCatalog(db);
    const collections = catalog.filter((c) => c.file !== undefined);
    session = facts.replicaSet !== undefined ? client.startSession({ snapshot: true }) : undefined;
    let snapshotWhole = session !== undefined;
    for (const entry of collections) {
      signal?.throwIfAborted();
      progress('copying', collections.length);
      const copy = async (withSession: ClientSession | undefined) => writer.addFile(entry.file!, collectionDocuments(db.collection(entry.name), { session: withSession, counted: (n) => (entry.documents = n) }), { size: 0, mtimeMs: Date.now(), mode: 0o600 });
      let file;
      try {
        file = await copy(session);
      } catch (error) {
        if (session === undefined || !causedBy(error, SNAPSHOT_TOO_OLD)) throw error;
        snapshotWhole = false;
        file = await copy(undefined);
      }
      filesDone += 1;
      bytesDone += file.size;
    }
    signal?.throwIfAborted();
    const end = start === undefined ? undefined : await newestOplogTime(client);
    const oplog = start === undefined || end === undefined ? undefined : await captureOplog({ client, database, repository, after: start, until: end, signal });
    const consistency: MongodbConsistency = oplog === undefined ? 'none' : snapshotWhole ? 'snapshot+oplog' : 'oplog';
    progress('completing', collections.length);
    writer.addBlob(CATALOG_BLOB, encodeCatalog(database, catalog));
    const consistentAt = oplog ? oplogTimeDate(oplog.last) : new Date();
    writer.setMetadata({
      engine: 'mongodb',
      sourceDatabase: database,
      serverVersion: facts.version,
      ferretdb: facts.ferretdb,
      replicaSet: facts.replicaSet,
      consistency,
      consistentAt: consistentAt.toISOString(),
      oplogStart: start === undefined ? undefined : formatOplogTime(start),
      oplogEnd: oplog === undefined ? undefined : formatOplogTime(oplog.last),
      oplogEntries: oplog?.entries ?? 0,
      walSegments: oplog?.slices ?? [],
      collections: catalog.length,
      documents: catalog.reduce((n, c) => n + c.documents, 0),
    });
    const manifest = await writer.complete();
    return { backupId: manifest.backupId, sizeBytes: manifest.sizeBytes, storedBytes: manifest.storedBytes, startedAt, finishedAt: new Date(manifest.finishedAt), slices: oplog?.slices ?? [], consistentAt };
  } catch (error) {
    await writer.abort();
    if (error instanceof MongodbBackupError || signal?.aborted) throw error;
    throw new MongodbBackupError('backup-failed', `backup of MongoDB database "${database}" failed: ${(error as Error).message}`, { cause: error });
  } finally {
    await session?.endSession().catch(() => undefined);
  }
}

/** Whether the driver's error (possibly wrapped by the repository writer) carries a server error code. */
function causedBy(error: unknown, code: number): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) if ((e as { code?: unknown }).code === code) return true;
  return false;
}

