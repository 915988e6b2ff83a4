import { BSON, type Document } from 'mongodb';
import { DataLifecycleError } from '../../../errors/index.js';
import type { BoundPolicy } from '../../../lifecycle/lifecycle-part.js';
import { isPlainDocument } from '../parse-mongo-command.js';

const EXAMPLE = '{"status": "closed", "closedAt": {"$lt": {"$date": "2024-01-01T00:00:00Z"}}}';

/**
 * The policy's `where` as a query filter: Extended JSON text (`{"$date": ...}`, `{"$oid": ...}`, `{"$numberLong": ...}`
 * become BSON values), read as the command form reads it. Undefined without a condition.
 */
export function parseMongoWhere(policy: BoundPolicy): Document | undefined {
  if (policy.where === undefined) return undefined;
  let value: unknown;
  try {
    value = BSON.EJSON.parse(policy.where, { relaxed: true, useBigInt64: true });
  } catch (error) {
    throw new DataLifecycleError('bad-condition', policy.name, `"where" of a MongoDB policy is a JSON query filter such as ${EXAMPLE}; it does not parse (${error instanceof Error ? error.message : String(error)})`);
  }
  if (!isPlainDocument(value)) throw new DataLifecycleError('bad-condition', policy.name, `"where" of a MongoDB policy is a JSON object (a query filter) such as ${EXAMPLE}`);
  return value;
}

/** Documents whose age field holds a date before the cutoff (dates only: MongoDB compares within a type) and that match `where`. */
export function policyFilter(policy: BoundPolicy, where: Document | undefined): Document {
  const parts: Document[] = [];
  if (policy.age) parts.push({ [policy.age.column]: { $lt: policy.cutoff } });
  if (where !== undefined && Object.keys(where).length > 0) parts.push(where);
  if (parts.length === 0) return {};
  return parts.length === 1 ? parts[0]! : { $and: parts };
}

/** `base` and `_id` after `after` (same BSON type bracket: see nextBatch for the step to the next type). */
export function afterFilter(base: Document, after: unknown): Document {
  return and(base, { _id: { $gt: after } });
}

/** `base` and `_id` from `id` on (within its type bracket). */
export function fromFilter(base: Document, id: unknown): Document {
  return and(base, { _id: { $gte: id } });
}

/** `base` and `_id` in `ids`. */
export function idsFilter(base: Document, ids: readonly unknown[]): Document {
  return and(base, { _id: { $in: ids } });
}

/**
 * `base` and an `_id` after `after` in BSON order across types: `$gt` in a query compares only within a type, an
 * aggregation expression compares across them (numbers < strings < objects < ObjectIds < dates...).
 */
export function laterTypeFilter(base: Document, after: unknown): Document {
  return and(base, { $expr: { $gt: ['$_id', { $literal: after }] } });
}

function and(base: Document, extra: Document): Document {
  return Object.keys(base).length === 0 ? extra : { $and: [base, extra] };
}
