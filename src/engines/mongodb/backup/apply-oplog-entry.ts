import type { Db, Document } from 'mongodb';
import { MongodbBackupError } from './mongodb-backup-error.js';

/**
 * Applies one oplog entry of the source database to `db` (which may have another name), idempotently: a restore
 * replays entries that the copied documents may already show (as mongorestore --oplogReplay does). Inserts become
 * upserting replacements, deletes delete by _id, and a transaction's applyOps is applied entry by entry. Updates:
 * FerretDB logs the whole new document under `$set` (with its `_id`) and is replayed as a replacement; MongoDB's
 * `$set`/`$unset` form as that update; anything else (diff updates of MongoDB 5+, commands) goes to the server's own
 * applyOps, which FerretDB lacks: there it fails with 'replay-failed'.
 */
export async function applyOplogEntry(db: Db, source: string, entry: Document): Promise<void> {
  const op = entry.op as string;
  if (op === 'n') return;
  if (op === 'c' && Array.isArray((entry.o as Document).applyOps)) {
    for (const inner of (entry.o as Document).applyOps as Document[]) {
      if (typeof inner.ns === 'string' && inner.ns.startsWith(`${source}.`)) await applyOplogEntry(db, source, inner);
    }
    return;
  }
  const collection = String(entry.ns).slice(source.length + 1);
  const o = entry.o as Document;
  if (op === 'i') {
    await db.collection(collection).replaceOne({ _id: o._id }, o, { upsert: true, bypassDocumentValidation: true });
    return;
  }
  if (op === 'd') {
    await db.collection(collection).deleteOne({ _id: o._id });
    return;
  }
  if (op === 'u') {
    const selector = entry.o2 as Document;
    const { $v: _version, ...update } = o;
    const operators = Object.keys(update);
    if (operators.length > 0 && operators.every((k) => k === '$set' || k === '$unset')) {
      const set = update.$set as Document | undefined;
      if (operators.length === 1 && set !== undefined && '_id' in set) {
        await db.collection(collection).replaceOne(selector, set, { upsert: true, bypassDocumentValidation: true });
      } else {
        await db.collection(collection).updateOne(selector, update, { bypassDocumentValidation: true });
      }
      return;
    }
    if (operators.every((k) => !k.startsWith('$'))) {
      await db.collection(collection).replaceOne(selector, update, { upsert: true, bypassDocumentValidation: true });
      return;
    }
  }
  await serverApplyOps(db, source, entry);
}

async function serverApplyOps(db: Db, source: string, entry: Document): Promise<void> {
  // The entry, addressed to the target database; `ui` names the source collection's UUID, which the target lacks.
  const { ui: _uuid, ...rest } = entry;
  const ns = String(entry.ns);
  const rewritten = { ...rest, ns: ns.startsWith(`${source}.`) ? `${db.databaseName}${ns.slice(source.length)}` : ns };
  try {
    await db.admin().command({ applyOps: [rewritten] });
  } catch (error) {
    throw new MongodbBackupError(
      'replay-failed',
      `the target server could not apply oplog entry op "${String(entry.op)}" on ${ns} at ${String(entry.ts)} (${(error as Error).message}); restore without a target time (the backup's own end), or into a MongoDB replica set member, which has applyOps`,
      { items: [ns], cause: error },
    );
  }
}
