import type { Document } from 'mongodb';
import type { DatabaseAdapter } from '../../../adapters/database-adapter.js';
import { DataLifecycleError, QueryError } from '../../../errors/index.js';
import type { BoundPolicy, TargetInspection } from '../../../lifecycle/lifecycle-part.js';
import { closestNames } from '../../../config/closest-name.js';
import { parseMongoWhere, policyFilter } from './mongodb-lifecycle-filter.js';

/** A collection as the MongoDB lifecycle driver uses it. */
export interface MongodbTarget extends TargetInspection {
  readonly collection: string;
  /** The policy's documents: age field before the cutoff, and `where`. */
  readonly filter: Document;
}

/**
 * Checks the policy's collection before anything runs: it exists (and is not a view), `where` is a filter the server
 * accepts (explained, not run), and the age field holds dates in the documents that have it.
 */
export async function inspectMongodbTarget(adapter: DatabaseAdapter, policy: BoundPolicy): Promise<MongodbTarget> {
  const collection = policy.collection;
  if (collection === undefined) throw new DataLifecycleError('unknown-target', policy.name, `MongoDB policies name a collection (got ${policy.table !== undefined ? 'a table' : 'a key pattern'})`);
  const list = async (filter: Document) => ((await adapter.command({ runCommand: { listCollections: 1, filter, nameOnly: true, authorizedCollections: true } })) as { cursor?: { firstBatch?: { name: string; type?: string }[] } }).cursor?.firstBatch ?? [];
  const [found] = await list({ name: collection });
  if (!found || (found.type !== undefined && found.type !== 'collection')) {
    // The first batch of names is enough for a "did you mean".
    const collections = await list({});
    const near = closestNames(collection, collections.filter((c) => c.type === undefined || c.type === 'collection').map((c) => c.name));
    const what = found ? `"${collection}" is a ${found.type}, not a collection` : `collection "${collection}" does not exist in ${adapter.id}`;
    throw new DataLifecycleError('unknown-target', policy.name, `${what}${near.length ? `; did you mean ${near.map((n) => `"${n}"`).join(' or ')}?` : ''}; check "collection"`);
  }
  const filter = policyFilter(policy, parseMongoWhere(policy));
  try {
    await adapter.command({ runCommand: { explain: { find: collection, filter, limit: 1 }, verbosity: 'queryPlanner' } });
  } catch (error) {
    if (error instanceof QueryError) throw new DataLifecycleError('bad-condition', policy.name, `the server does not accept the filter on ${collection}: ${error.message}; fix "where"`, { cause: error });
    throw error;
  }
  if (policy.age) {
    const field = policy.age.column;
    const one = async (filterDoc: Document) => ((await adapter.command({ find: collection, filter: filterDoc, projection: { _id: 1 }, limit: 1 })) as unknown[]).length > 0;
    if (!(await one({ [field]: { $type: 'date' } }))) {
      if (await one({ [field]: { $exists: true } })) {
        throw new DataLifecycleError('unknown-column', policy.name, `no document of ${collection} has a date in "${field}" (the documents that have it hold other types, which an age never matches); set "timestampColumn" to a date field`);
      }
      if (await one({})) throw new DataLifecycleError('unknown-column', policy.name, `no document of ${collection} has a field "${field}"; set "timestampColumn" to the date field that ages its documents`);
    }
  }
  return { target: collection, collection, filter, key: ['_id'], schema: [{ name: '_id', type: 'any BSON type' }] };
}
