import type { Db, Document, MongoClient } from 'mongodb';
import type { RestoreProgress } from '../../../backup/backup-types.js';
import type { BackupManifest, BackupSummary, Repository } from '../../../repository/repository-types.js';
import { applyOplogEntry } from './apply-oplog-entry.js';
import { CATALOG_BLOB, decodeCatalog, type CatalogEntry } from './collection-catalog.js';
import { MongodbBackupError } from './mongodb-backup-error.js';
import { chainFrom, listOplogSlices } from './oplog-chain.js';
import { decodeOplogSlice } from './oplog-slice.js';
import { compareOplogTime, formatOplogTime, fromTimestamp, parseOplogTime, type OplogTime } from './oplog-timestamp.js';
import { readBsonDocuments } from './read-bson-documents.js';

export interface MongodbRestoreOptions {
  readonly repository: Repository;
  /** The datakeep database id whose backups to read. */
  readonly database: string;
  readonly backupId: string | undefined;
  readonly client: MongoClient;
  /** The database to write into (default: the backed-up one's name). */
  readonly targetDatabase: string | undefined;
  /** Drop the target's collections the backup holds instead of refusing to restore over them. */
  readonly replace: boolean;
  /** Replay the oplog up to this instant (inclusive); default: the base backup's own end. */
  readonly targetTime: Date | undefined;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: RestoreProgress) => void;
}

export interface MongodbRestoreResult {
  readonly backupId: string;
  readonly database: string;
  readonly documents: number;
  readonly oplogEntries: number;
  /** Where replay stopped ("t.i"), undefined when the backup has no oplog. */
  readonly reached: string | undefined;
}

/**
 * Restores one logical backup into a database of a live server: collections created with their options, documents
 * inserted in batches as they are read from the repository, indexes built after the data, views last; then the oplog
 * is replayed from the backup's start up to its end, or to `targetTime` through later slices. Everything that can be
 * refused (no such backup, a target before the backup or past the oplog, collections in the way) is refused before
 * anything is written.
 */
export async function restoreMongodb(options: MongodbRestoreOptions): Promise<MongodbRestoreResult> {
  const { repository, client, signal } = options;
  const base = await chooseBase(repository, options.database, options.backupId, options.targetTime);
  const manifest = await repository.manifest(base.backupId);
  const catalogText = manifest.blobs[CATALOG_BLOB];
  if (catalogText === undefined) throw new MongodbBackupError('backup-corrupt', `backup ${base.backupId} has no MongoDB catalog: it was not made by the MongoDB backup driver`, { items: [base.backupId] });
  const catalog = decodeCatalog(catalogText);
  const source = catalog.database;
  const db = client.db(options.targetDatabase ?? source);
  const replay = await planReplay(repository, manifest, options.targetTime);
  await clearTarget(db, catalog.collections, options.replace);

  const files = new Map(manifest.files.map((f) => [f.path, f]));
  const progress = { filesTotal: catalog.collections.length, filesDone: 0, bytesTotal: manifest.sizeBytes, bytesDone: 0 };
  const report = (phase: RestoreProgress['phase']) => options.onProgress?.({ phase, ...progress });
  let documents = 0;
  for (const entry of catalog.collections) {
    signal?.throwIfAborted();
    report('writing');
    if (entry.type === 'view') {
      await db.createCollection(entry.name, entry.options);
    } else {
      await db.createCollection(entry.name, entry.options);
      const file = files.get(entry.file!);
      if (!file) throw new MongodbBackupError('backup-corrupt', `backup ${base.backupId} lists collection ${entry.name} but holds no file ${entry.file}; restore another backup`, { items: [entry.file!] });
      for await (const batch of readBsonDocuments(repository.readFile(file), { path: file.path })) {
        signal?.throwIfAborted();
        await db.collection(entry.name).insertMany(batch, { ordered: true, bypassDocumentValidation: true });
        documents += batch.length;
      }
      progress.bytesDone += file.size;
      const indexes = entry.indexes.filter((spec) => spec.name !== '_id_').map(({ v: _v, ns: _ns, ...spec }: Document) => spec);
      if (indexes.length > 0) await db.command({ createIndexes: entry.name, indexes });
    }
    progress.filesDone += 1;
  }
  let oplogEntries = 0;
  let reached = replay?.from;
  if (replay) {
    replaying: for (const link of replay.links) {
      const content = await repository.getWal(link.name);
      if (content === undefined) throw new MongodbBackupError('backup-corrupt', `oplog slice ${link.name} vanished from the repository during the restore`, { items: [link.name] });
      for (const entry of decodeOplogSlice(link.name, content).entries) {
        const ts = fromTimestamp(entry.ts);
        if (compareOplogTime(ts, reached!) <= 0) continue;
        if (!replay.applies(ts, entry)) break replaying;
        signal?.throwIfAborted();
        await applyOplogEntry(db, source, entry);
        oplogEntries += 1;
        reached = ts;
      }
      // The slice's positions are covered whether or not its last entries were this database's.
      if (compareOplogTime(link.last, replay.end) <= 0) reached = link.last;
    }
  }
  report('done');
  return { backupId: base.backupId, database: db.databaseName, documents, oplogEntries, reached: reached === undefined ? undefined : formatOplogTime(reached) };
}

/** The backup to restore: the one asked for, else the newest consistent at or before the target, else the newest. */
async function chooseBase(repository: Repository, database: string, backupId: string | undefined, target: Date | undefined): Promise<BackupSummary> {
  const backups = (await repository.list()).filter((b) => b.database === database);
  if (backupId !== undefined) {
    const found = backups.find((b) => b.backupId === backupId);
    if (!found) throw new MongodbBackupError('backup-not-found', `no backup ${backupId} of ${database} in the repository (there are: ${backups.map((b) => b.backupId).join(', ') || 'none'})`, { items: [backupId] });
    if (target !== undefined && consistentAt(found) > target.getTime()) throw new MongodbBackupError('target-unreachable', `backup ${backupId} is consistent at ${new Date(consistentAt(found)).toISOString()}, after the target ${target.toISOString()}; pick an older backup or leave the id out`);
    return found;
  }
  const candidates = target === undefined ? backups : backups.filter((b) => consistentAt(b) <= target.getTime());
  const base = candidates.at(-1);
  if (!base) {
    throw new MongodbBackupError(
      target === undefined ? 'backup-not-found' : 'target-unreachable',
      target === undefined ? `no backup of ${database} in the repository; run datakeep backup first` : `no backup of ${database} is consistent at or before ${target.toISOString()} (the oldest: ${backups[0] ? new Date(consistentAt(backups[0])).toISOString() : 'none'}); choose a later target`,
    );
  }
  return base;
}

function consistentAt(summary: BackupSummary): number {
  return Date.parse(String(summary.metadata.consistentAt ?? summary.finishedAt));
}

interface ReplayPlan {
  readonly from: OplogTime;
  readonly end: OplogTime;
  readonly links: readonly { name: string; previous: OplogTime; last: OplogTime }[];
  /** Whether an entry is still to be applied (replay stops at the first that is not). */
  readonly applies: (ts: OplogTime, entry: Document) => boolean;
}

/** The slices to replay and where to stop, refused before anything is written when the target cannot be reached. */
async function planReplay(repository: Repository, manifest: BackupManifest, target: Date | undefined): Promise<ReplayPlan | undefined> {
  const start = typeof manifest.metadata.oplogStart === 'string' ? parseOplogTime(manifest.metadata.oplogStart) : undefined;
  const end = typeof manifest.metadata.oplogEnd === 'string' ? parseOplogTime(manifest.metadata.oplogEnd) : undefined;
  if (target !== undefined && target.getTime() > Date.now()) throw new MongodbBackupError('target-unreachable', `the target ${target.toISOString()} lies in the future; give a past instant`);
  if (start === undefined || end === undefined) {
    if (target !== undefined && target.getTime() > Date.parse(String(manifest.metadata.consistentAt ?? manifest.finishedAt))) {
      throw new MongodbBackupError('target-unreachable', `backup ${manifest.backupId} has no oplog (the server had no local.oplog.rs), so it restores only to itself (${String(manifest.metadata.consistentAt)}); leave out the target time`);
    }
    return undefined;
  }
  const chain = chainFrom(await listOplogSlices(repository), start);
  if (compareOplogTime(chain.end, end) < 0) {
    throw new MongodbBackupError('backup-corrupt', `backup ${manifest.backupId} needs oplog up to ${formatOplogTime(end)}, but its slices end at ${formatOplogTime(chain.end)}; restore another backup`, { items: [formatOplogTime(chain.end)] });
  }
  if (target === undefined) return { from: start, end, links: chain.links.filter((l) => compareOplogTime(l.previous, end) < 0), applies: (ts) => compareOplogTime(ts, end) <= 0 };
  const targetSeconds = Math.floor(target.getTime() / 1000);
  if (targetSeconds > chain.end.t) {
    throw new MongodbBackupError('target-unreachable', `the oplog in the repository reaches ${new Date(chain.end.t * 1000).toISOString()} (${formatOplogTime(chain.end)})${chain.gapAfter ? ', where it has a gap' : ''}; the target ${target.toISOString()} lies after it: choose an earlier target or capture the oplog further`);
  }
  const applies = (ts: OplogTime, entry: Document) => {
    // `wall` (milliseconds) where the server writes it, else the position's second.
    const at = entry.wall instanceof Date ? entry.wall.getTime() : ts.t * 1000;
    return at <= target.getTime() && compareOplogTime(ts, { t: targetSeconds, i: 0xffffffff }) <= 0;
  };
  const endAt = { t: targetSeconds, i: 0xffffffff };
  return { from: start, end: endAt, links: chain.links.filter((l) => compareOplogTime(l.previous, endAt) < 0), applies };
}

/** Refuses to write over collections the target holds (or drops them with `replace`). */
async function clearTarget(db: Db, collections: readonly CatalogEntry[], replace: boolean): Promise<void> {
  const names = new Set(collections.map((c) => c.name));
  const present = (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).filter((n) => names.has(n));
  if (present.length === 0) return;
  if (!replace) {
    throw new MongodbBackupError('unsafe-target', `database "${db.databaseName}" already holds ${present.join(', ')}, which the backup would write into; restore into another database, or pass replace to drop them first`, { items: present });
  }
  for (const name of present) await db.collection(name).drop();
}
