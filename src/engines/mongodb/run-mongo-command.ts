import type { ClientSession, CollationOptions, Document, MongoClient, Sort } from 'mongodb';
import type { MongoCommand } from './parse-mongo-command.js';

/** What one command produced, in the three shapes the adapter hands out. */
export interface MongoCommandOutcome {
  /** `command()`'s result: documents for reads, a count for count, a summary object for writes, the reply for runCommand. */
  readonly reply: unknown;
  /** `query()`'s result: the documents, or the single summary/reply document. */
  readonly rows: Document[];
  /** `execute()`'s result: what the server calls `n` (documents inserted, matched + upserted, deleted, or returned). */
  readonly affected: number;
}

export interface RunOptions {
  readonly session?: ClientSession;
  /** Default server-side time limit (the configuration's statementTimeout), unless the command gives maxTimeMS. */
  readonly maxTimeMS?: number;
}

/** Runs a validated command through the driver's collection API, so that retryable reads and writes apply. */
export async function runMongoCommand(client: Pick<MongoClient, 'db'>, defaultDatabase: string, command: MongoCommand, options: RunOptions = {}): Promise<MongoCommandOutcome> {
  const db = client.db(command.database ?? defaultDatabase);
  const session = options.session ? { session: options.session } : {};
  const maxTimeMS = 'maxTimeMS' in command && command.maxTimeMS !== undefined ? command.maxTimeMS : options.maxTimeMS;
  const common = {
    ...session,
    ...(maxTimeMS !== undefined ? { maxTimeMS } : {}),
    ...('hint' in command && command.hint !== undefined ? { hint: command.hint } : {}),
    ...('collation' in command && command.collation !== undefined ? { collation: command.collation as CollationOptions } : {}),
  };
  switch (command.kind) {
    case 'find': {
      const docs = await db
        .collection(command.collection)
        .find(command.filter, {
          ...common,
          ...defined({ projection: command.projection, sort: command.sort as Sort | undefined, limit: command.limit, skip: command.skip, batchSize: command.batchSize }),
          ...exactTypes(command.exactTypes),
        })
        .toArray();
      return { reply: docs, rows: docs, affected: docs.length };
    }
    case 'aggregate': {
      const docs = await db
        .collection(command.collection)
        .aggregate(command.pipeline, { ...common, ...defined({ allowDiskUse: command.allowDiskUse, batchSize: command.batchSize }), ...exactTypes(command.exactTypes) })
        .toArray();
      return { reply: docs, rows: docs, affected: docs.length };
    }
    case 'count': {
      const count = await db.collection(command.collection).countDocuments(command.filter, { ...common, ...defined({ limit: command.limit, skip: command.skip }) });
      return { reply: count, rows: [{ count }], affected: count };
    }
    case 'insert': {
      const result = await db.collection(command.collection).insertMany(command.documents, { ...session, ...defined({ ordered: command.ordered }) });
      const insertedIds = Array.from({ length: command.documents.length }, (_, i) => result.insertedIds[i]).filter((id) => id !== undefined);
      const summary = { insertedCount: result.insertedCount, insertedIds };
      return { reply: summary, rows: [summary], affected: result.insertedCount };
    }
    case 'update': {
      const collection = db.collection(command.collection);
      const updateOptions = { ...common, upsert: command.upsert, ...defined({ arrayFilters: command.arrayFilters }) };
      const result = command.many
        ? await collection.updateMany(command.filter, command.changes, updateOptions)
        : await collection.updateOne(command.filter, command.changes, updateOptions);
      const summary = { matchedCount: result.matchedCount, modifiedCount: result.modifiedCount, upsertedCount: result.upsertedCount, upsertedId: result.upsertedId };
      return { reply: summary, rows: [summary], affected: result.matchedCount + result.upsertedCount };
    }
    case 'delete': {
      const collection = db.collection(command.collection);
      const result = command.many ? await collection.deleteMany(command.filter, common) : await collection.deleteOne(command.filter, common);
      const summary = { deletedCount: result.deletedCount };
      return { reply: summary, rows: [summary], affected: result.deletedCount };
    }
    case 'runCommand': {
      const reply = await db.command(command.command, session);
      return { reply, rows: [reply], affected: typeof reply.n === 'number' ? reply.n : 0 };
    }
  }
}

/** The driver's deserialization options that keep every value's BSON type (see FindCommand.exactTypes). */
function exactTypes(on: boolean | undefined): { promoteValues?: boolean; bsonRegExp?: boolean } {
  return on ? { promoteValues: false, bsonRegExp: true } : {};
}

/** Drops undefined values: the driver distinguishes an absent option from one set to undefined in places. */
function defined<T extends Record<string, unknown>>(fields: T): Partial<T> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Partial<T>;
}
