import type { Document } from 'mongodb';
import type { DatabaseAdapter } from '../../../adapters/database-adapter.js';
import { CapabilityError, DataLifecycleError, QueryError, TimeoutError } from '../../../errors/index.js';
import type { LifecycleDriver, LifecycleRow, TargetInspection } from '../../../lifecycle/lifecycle-part.js';
import { inspectMongodbTarget, type MongodbTarget } from './inspect-mongodb-target.js';
import { afterFilter, fromFilter, idsFilter, laterTypeFilter } from './mongodb-lifecycle-filter.js';
import { decodeDocument, decodeKey, encodeDocument, encodeKey } from './mongodb-record.js';
import { replicaLagSeconds } from './replica-lag.js';

function target(inspection: TargetInspection): MongodbTarget {
  return inspection as MongodbTarget;
}

/** Documents in `_id` order, with their BSON types kept (see FindCommand.exactTypes). */
async function find(adapter: DatabaseAdapter, collection: string, filter: Document, options: { limit?: number; sort?: 1 | -1; idOnly?: boolean } = {}): Promise<Document[]> {
  return (await adapter.command({
    find: collection, filter, sort: { _id: options.sort ?? 1 }, exactTypes: true,
    ...(options.limit === undefined ? {} : { limit: options.limit }),
    ...(options.idOnly ? { projection: { _id: 1 } } : {}),
  })) as Document[];
}

function rowsOf(docs: readonly Document[]): LifecycleRow[] {
  return docs.map((doc) => ({ key: [encodeKey(doc._id)], record: encodeDocument(doc) }));
}

/** Which adapters are not replica set members (replSetGetStatus fails there): asked once. */
const standalone = new WeakSet<DatabaseAdapter>();

/**
 * Data lifecycle on MongoDB: documents matching the policy (a date field before the cutoff, a JSON filter) in `_id`
 * order, deleted in batches by `_id` lists, each delete bounded by the policy's lockTimeout (maxTimeMS). Records are
 * canonical Extended JSON; a restore inserts them in `_id` order, in a transaction where the deployment has them, and
 * refuses when an `_id` exists already. TTL indexes are left alone: a policy is the paced, archiving alternative to one.
 */
export const mongodbLifecycle: LifecycleDriver = {
  targets: 'collection',

  inspect: (adapter, policy) => inspectMongodbTarget(adapter, policy),

  async count(adapter, _policy, inspection) {
    const t = target(inspection);
    const rows = Number(await adapter.command({ count: t.collection, filter: t.filter }));
    const total = Number(await adapter.command({ count: t.collection, filter: {} }));
    const edge = async (sort: 1 | -1) => (await find(adapter, t.collection, t.filter, { limit: 1, sort, idOnly: true })).map((d) => [encodeKey(d._id)])[0];
    return { rows, total, firstKey: await edge(1), lastKey: await edge(-1) };
  },

  async nextBatch(adapter, _policy, inspection, after, limit) {
    const t = target(inspection);
    if (after === undefined) return { rows: rowsOf(await find(adapter, t.collection, t.filter, { limit })) };
    const last = decodeKey(after[0]);
    const docs = await find(adapter, t.collection, afterFilter(t.filter, last), { limit });
    if (docs.length > 0) return { rows: rowsOf(docs) };
    // `$gt` stays within the last `_id`'s BSON type: look for a later type (a collection mixing string and ObjectId
    // ids), and go on from its first `_id`.
    const [next] = await find(adapter, t.collection, laterTypeFilter(t.filter, last), { limit: 1, idOnly: true });
    if (!next) return { rows: [] };
    return { rows: rowsOf(await find(adapter, t.collection, fromFilter(t.filter, next._id), { limit })) };
  },

  async remove(adapter, policy, inspection, rows, { lockTimeoutMs, exact }) {
    if (rows.length === 0) return { removed: 0, lockWaitMs: 0 };
    const t = target(inspection);
    const ids = rows.map((r) => decodeKey(r.key[0]));
    // Exact: only documents equal to their archived record (compared by the server, field by field in order).
    const filter = exact
      ? { _id: { $in: ids }, $expr: { $in: ['$$ROOT', { $literal: rows.map((r) => decodeDocument(r.record)) }] } }
      : idsFilter(t.filter, ids);
    const started = performance.now();
    try {
      const { deletedCount: removed } = (await adapter.command({ delete: t.collection, filter, many: true, maxTimeMS: Math.max(1, Math.floor(lockTimeoutMs)) })) as { deletedCount: number };
      return { removed, lockWaitMs: performance.now() - started };
    } catch (error) {
      if (error instanceof TimeoutError && error.kind === 'statement') {
        throw new DataLifecycleError('contended', policy.name, `the delete did not finish within ${lockTimeoutMs} ms (lockTimeout, as maxTimeMS); documents are deleted one by one, so part of the batch may be gone and the rest is tried again`, { cause: error });
      }
      throw error;
    }
  },

  async fetch(adapter, inspection, keys) {
    if (keys.length === 0) return [];
    return rowsOf(await find(adapter, target(inspection).collection, { _id: { $in: keys.map((k) => decodeKey(k[0])) } }));
  },

  async insert(adapter, into, records) {
    if (records.length === 0) return 0;
    const documents = records.map(decodeDocument);
    const [existing] = await find(adapter, into, { _id: { $in: documents.map((d) => d._id as unknown) } }, { limit: 1, idOnly: true });
    if (existing) throw conflict(into, existing._id, 'nothing was restored');
    const insert = async () => ((await adapter.command({ insert: into, documents, ordered: true })) as { insertedCount: number }).insertedCount;
    try {
      try {
        return await adapter.transaction(insert);
      } catch (error) {
        // A standalone server has no transactions: insert in order, and say what a conflict then leaves behind.
        if (!(error instanceof CapabilityError)) throw error;
        return await insert().catch((e: unknown) => {
          throw isDuplicate(e) ? conflict(into, undefined, 'the documents before it in the archive were inserted (a standalone server has no transactions)', e) : e;
        });
      }
    } catch (error) {
      if (isDuplicate(error)) throw conflict(into, undefined, 'nothing was restored', error);
      throw error;
    }
  },

  async pressure(adapter) {
    if (standalone.has(adapter)) return { replicaLagSeconds: undefined };
    try {
      return { replicaLagSeconds: replicaLagSeconds(await adapter.command({ runCommand: { replSetGetStatus: 1 }, database: 'admin' }) as Document) };
    } catch (error) {
      // NoReplicationEnabled on a standalone server, Unauthorized without clusterMonitor: no lag to pace on.
      if (!(error instanceof QueryError)) throw error;
      standalone.add(adapter);
      return { replicaLagSeconds: undefined };
    }
  },
};

function isDuplicate(error: unknown): boolean {
  return error instanceof QueryError && error.sqlState === 'DuplicateKey';
}

function conflict(into: string, id: unknown, outcome: string, cause?: unknown): DataLifecycleError {
  const which = id === undefined ? 'a document with an _id of the archive' : `a document with _id ${JSON.stringify(encodeKey(id))}`;
  return new DataLifecycleError('restore-conflict', undefined, `${into} already holds ${which}; ${outcome}. Restore into another collection with --into, or remove those documents first`, cause === undefined ? {} : { cause });
}
