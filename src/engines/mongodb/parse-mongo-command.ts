import { BSON, type Document } from 'mongodb';
import { UsageError } from '../../errors/index.js';

/**
 * The JSON command form that `queryDatabase`/`command()`, `query()` and `execute()` accept for MongoDB (see
 * docs/mongodb.md). Each command names its operation by its first-level key, as MongoDB's own commands do.
 */
interface CommandBase {
  /** Another database of the same deployment; default: the adapter's `database`. */
  readonly database?: string;
}

export interface FindCommand extends CommandBase {
  readonly kind: 'find';
  readonly collection: string;
  readonly filter: Document;
  readonly projection?: Document;
  readonly sort?: Document;
  readonly limit?: number;
  readonly skip?: number;
  readonly hint?: Document | string;
  readonly collation?: Document;
  readonly maxTimeMS?: number;
  readonly batchSize?: number;
  /**
   * Documents keep their exact BSON types (Int32, Double and Long wrappers, BSONRegExp) instead of becoming JavaScript
   * numbers and RegExps, so that writing them back (or printing them as canonical Extended JSON) changes no type.
   */
  readonly exactTypes?: boolean;
}

export interface AggregateCommand extends CommandBase {
  readonly kind: 'aggregate';
  readonly collection: string;
  readonly pipeline: Document[];
  readonly allowDiskUse?: boolean;
  readonly hint?: Document | string;
  readonly collation?: Document;
  readonly maxTimeMS?: number;
  readonly batchSize?: number;
  /** As FindCommand.exactTypes. */
  readonly exactTypes?: boolean;
}

export interface CountCommand extends CommandBase {
  readonly kind: 'count';
  readonly collection: string;
  readonly filter: Document;
  readonly limit?: number;
  readonly skip?: number;
  readonly hint?: Document | string;
  readonly collation?: Document;
  readonly maxTimeMS?: number;
}

export interface InsertCommand extends CommandBase {
  readonly kind: 'insert';
  readonly collection: string;
  readonly documents: Document[];
  readonly ordered?: boolean;
}

export interface UpdateCommand extends CommandBase {
  readonly kind: 'update';
  readonly collection: string;
  readonly filter: Document;
  /** Update operators (`{"$set": ...}`) or an aggregation pipeline (an array of stages). */
  readonly changes: Document | Document[];
  readonly many: boolean;
  readonly upsert: boolean;
  readonly arrayFilters?: Document[];
  readonly hint?: Document | string;
  readonly collation?: Document;
  readonly maxTimeMS?: number;
}

export interface DeleteCommand extends CommandBase {
  readonly kind: 'delete';
  readonly collection: string;
  readonly filter: Document;
  readonly many: boolean;
  readonly hint?: Document | string;
  readonly collation?: Document;
  readonly maxTimeMS?: number;
}

export interface RunCommand extends CommandBase {
  readonly kind: 'runCommand';
  /** The raw database command, sent as given (its first key names it). */
  readonly command: Document;
}

export type MongoCommand = FindCommand | AggregateCommand | CountCommand | InsertCommand | UpdateCommand | DeleteCommand | RunCommand;
export type MongoCommandKind = MongoCommand['kind'];

const KINDS: readonly MongoCommandKind[] = ['find', 'aggregate', 'count', 'insert', 'update', 'delete', 'runCommand'];

const ALLOWED_KEYS: Record<MongoCommandKind, readonly string[]> = {
  find: ['find', 'filter', 'projection', 'sort', 'limit', 'skip', 'hint', 'collation', 'maxTimeMS', 'batchSize', 'exactTypes', 'database'],
  aggregate: ['aggregate', 'pipeline', 'allowDiskUse', 'hint', 'collation', 'maxTimeMS', 'batchSize', 'exactTypes', 'database'],
  count: ['count', 'filter', 'limit', 'skip', 'hint', 'collation', 'maxTimeMS', 'database'],
  insert: ['insert', 'documents', 'ordered', 'database'],
  update: ['update', 'filter', 'changes', 'many', 'upsert', 'arrayFilters', 'hint', 'collation', 'maxTimeMS', 'database'],
  delete: ['delete', 'filter', 'many', 'hint', 'collation', 'maxTimeMS', 'database'],
  runCommand: ['runCommand', 'database'],
};

const EXAMPLE = '{"find": "users", "filter": {"active": true}, "limit": 10}';

/**
 * Validates a MongoDB command given as Extended JSON text, an object, or an array, and returns it typed.
 * Text is parsed with the driver's EJSON (canonical or relaxed), so `{"$oid": ...}`, `{"$date": ...}` and
 * `{"$numberLong": ...}` become ObjectId, Date and exact 64-bit integers. Objects are used as given (pass driver
 * values such as `new ObjectId()` directly). Arrays are a short form:
 * `[{...}]` is the object inside, and `[name, value?, fields?]` is `{"runCommand": {[name]: value ?? 1, ...fields}}`,
 * the way `db.runCommand("ping")` works in mongosh.
 * Every malformed command is a UsageError that names the field, what is wrong and what to write instead.
 */
export function parseMongoCommand(input: unknown): MongoCommand {
  if (typeof input === 'string') return parseObject(parseText(input));
  if (Array.isArray(input)) return parseArrayForm(input);
  if (isPlainDocument(input)) return parseObject(input);
  throw new UsageError('command', `expected a JSON command (text or object), got ${describe(input)}; for example ${EXAMPLE}`);
}

function parseText(text: string): Document {
  if (text.trim() === '') throw new UsageError('command', `is empty; give a JSON command such as ${EXAMPLE}`);
  let value: unknown;
  try {
    // useBigInt64 keeps {"$numberLong": ...} exact while plain JSON numbers stay JS numbers.
    value = BSON.EJSON.parse(text, { relaxed: true, useBigInt64: true });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new UsageError('command', `is not valid Extended JSON (${reason}); write it as ${EXAMPLE}`);
  }
  if (!isPlainDocument(value)) {
    throw new UsageError('command', `JSON text must hold an object, got ${describe(value)}; for example ${EXAMPLE}`);
  }
  return value;
}

function parseArrayForm(input: readonly unknown[]): MongoCommand {
  if (input.length === 0) {
    throw new UsageError('command', `is an empty array; give a JSON command object such as ${EXAMPLE}, or ["ping"] for a database command`);
  }
  const [first, value, fields, ...rest] = input;
  if (isPlainDocument(first)) {
    if (input.length !== 1) throw new UsageError('command', 'an array holding a command object must hold only that object; pass the object itself');
    return parseObject(first);
  }
  if (typeof first !== 'string' || first === '') {
    throw new UsageError('command[0]', `must be a database command name such as "ping" or a command object, got ${describe(first)}`);
  }
  if (rest.length > 0) {
    throw new UsageError('command', `the array form is [name, value?, fields?] (at most 3 elements), got ${input.length}; pass {"runCommand": {...}} for anything longer`);
  }
  if (fields !== undefined && !isPlainDocument(fields)) {
    throw new UsageError('command[2]', `must be an object of further command fields, got ${describe(fields)}`);
  }
  const command: Document = { [first]: value === undefined ? 1 : value, ...(fields ?? {}) };
  return { kind: 'runCommand', command };
}

function parseObject(doc: Document): MongoCommand {
  const named = KINDS.filter((k) => Object.hasOwn(doc, k));
  if (named.length === 0) {
    const keys = Object.keys(doc);
    throw new UsageError(
      'command',
      `names no operation (keys: ${keys.length ? keys.join(', ') : 'none'}); start it with one of ${KINDS.map((k) => `"${k}"`).join(', ')}, e.g. ${EXAMPLE}`,
    );
  }
  if (named.length > 1) {
    throw new UsageError('command', `names several operations (${named.join(', ')}); a command runs exactly one`);
  }
  const kind = named[0]!;
  for (const key of Object.keys(doc)) {
    if (!ALLOWED_KEYS[kind].includes(key)) {
      const hint = kind === 'update' && (key === 'u' || key === 'updates' || key === 'set') ? ' (put the update document in "changes")' : '';
      throw new UsageError(key, `is not a field of a ${kind} command${hint}; allowed: ${ALLOWED_KEYS[kind].join(', ')}`);
    }
  }
  const database = optionalDatabaseName(doc.database);
  const base = database === undefined ? {} : { database };
  switch (kind) {
    case 'find':
      return {
        kind, ...base,
        collection: collectionName(doc.find, 'find'),
        filter: optionalDocument(doc.filter, 'filter') ?? {},
        ...optionalFields(doc, ['projection', 'sort', 'collation'], optionalDocument),
        ...optionalFields(doc, ['limit', 'skip'], (v, f) => optionalInteger(v, f, 0)),
        ...optionalFields(doc, ['maxTimeMS', 'batchSize'], (v, f) => optionalInteger(v, f, 1)),
        ...optionalFields(doc, ['hint'], optionalHint),
        ...optionalFields(doc, ['exactTypes'], optionalBoolean),
      };
    case 'aggregate':
      return {
        kind, ...base,
        collection: collectionName(doc.aggregate, 'aggregate'),
        pipeline: documentArray(doc.pipeline, 'pipeline', { allowEmpty: true }),
        ...optionalFields(doc, ['allowDiskUse', 'exactTypes'], optionalBoolean),
        ...optionalFields(doc, ['collation'], optionalDocument),
        ...optionalFields(doc, ['maxTimeMS', 'batchSize'], (v, f) => optionalInteger(v, f, 1)),
        ...optionalFields(doc, ['hint'], optionalHint),
      };
    case 'count':
      return {
        kind, ...base,
        collection: collectionName(doc.count, 'count'),
        filter: optionalDocument(doc.filter, 'filter') ?? {},
        ...optionalFields(doc, ['collation'], optionalDocument),
        ...optionalFields(doc, ['limit', 'skip'], (v, f) => optionalInteger(v, f, 0)),
        ...optionalFields(doc, ['maxTimeMS'], (v, f) => optionalInteger(v, f, 1)),
        ...optionalFields(doc, ['hint'], optionalHint),
      };
    case 'insert':
      return {
        kind, ...base,
        collection: collectionName(doc.insert, 'insert'),
        documents: documentArray(doc.documents, 'documents', { allowEmpty: false }),
        ...optionalFields(doc, ['ordered'], optionalBoolean),
      };
    case 'update': {
      if (isPlainDocument(doc.update) || Array.isArray(doc.update)) {
        throw new UsageError(
          'update',
          'must be the collection name; put the update document in "changes" ({"update": "users", "filter": {...}, "changes": {"$set": {...}}}). ' +
            'A JSON object cannot hold "update" twice: the last one silently wins',
        );
      }
      return {
        kind, ...base,
        collection: collectionName(doc.update, 'update'),
        filter: requiredFilter(doc.filter, 'update'),
        changes: updateChanges(doc.changes),
        many: optionalBoolean(doc.many, 'many') ?? false,
        upsert: optionalBoolean(doc.upsert, 'upsert') ?? false,
        ...optionalFields(doc, ['arrayFilters'], (v, f) => (v === undefined ? undefined : documentArray(v, f, { allowEmpty: false }))),
        ...optionalFields(doc, ['collation'], optionalDocument),
        ...optionalFields(doc, ['maxTimeMS'], (v, f) => optionalInteger(v, f, 1)),
        ...optionalFields(doc, ['hint'], optionalHint),
      };
    }
    case 'delete':
      return {
        kind, ...base,
        collection: collectionName(doc.delete, 'delete'),
        filter: requiredFilter(doc.filter, 'delete'),
        many: optionalBoolean(doc.many, 'many') ?? false,
        ...optionalFields(doc, ['collation'], optionalDocument),
        ...optionalFields(doc, ['maxTimeMS'], (v, f) => optionalInteger(v, f, 1)),
        ...optionalFields(doc, ['hint'], optionalHint),
      };
    case 'runCommand': {
      const command = doc.runCommand;
      if (!isPlainDocument(command) || Object.keys(command).length === 0) {
        throw new UsageError('runCommand', `must be a non-empty command object such as {"ping": 1}, got ${describe(command)}`);
      }
      return { kind, ...base, command };
    }
  }
}

/** Copies the listed optional fields that are present, each validated by `check` (which names the field). */
function optionalFields<T>(doc: Document, keys: readonly string[], check: (value: unknown, field: string) => T | undefined): Record<string, T> {
  const out: Record<string, T> = {};
  for (const key of keys) {
    const value = check(doc[key], key);
    if (value !== undefined) out[key] = value;
  }
  return out;
}

function collectionName(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') {
    throw new UsageError(field, `must be the collection name (a non-empty string), got ${describe(value)}`);
  }
  if (value.includes('\0') || value.startsWith('$') || value.startsWith('system.')) {
    throw new UsageError(field, `"${value}" is not a usable collection name (no NUL, no leading "$" or "system.")`);
  }
  return value;
}

const BAD_DB_CHARS = /[/\\. "$*<>:|?\0]/;

function optionalDatabaseName(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '' || BAD_DB_CHARS.test(value) || Buffer.byteLength(value) > 63) {
    throw new UsageError('database', `must be a database name (1-63 bytes, none of / \\ . " $ * < > : | ? or spaces), got ${describe(value)}`);
  }
  return value;
}

function requiredFilter(value: unknown, kind: string): Document {
  if (value === undefined) {
    throw new UsageError('filter', `is required for ${kind}; give {} to match every document (required so that a forgotten filter never touches the whole collection)`);
  }
  return optionalDocument(value, 'filter')!;
}

function updateChanges(value: unknown): Document | Document[] {
  if (value === undefined) {
    throw new UsageError('changes', 'is required: the update operators to apply, e.g. {"$set": {"name": "Ada"}} (or an aggregation pipeline array)');
  }
  if (Array.isArray(value)) return documentArray(value, 'changes', { allowEmpty: false });
  const doc = optionalDocument(value, 'changes')!;
  const keys = Object.keys(doc);
  if (keys.length === 0) throw new UsageError('changes', 'is empty; give update operators such as {"$set": {...}}');
  const plain = keys.find((k) => !k.startsWith('$'));
  if (plain !== undefined) {
    throw new UsageError(
      'changes',
      `"${plain}" is not an update operator; updates take operators such as {"$set": {"${plain}": ...}} (replacing whole documents is not part of the command form; use $set, or runCommand)`,
    );
  }
  return doc;
}

function documentArray(value: unknown, field: string, options: { allowEmpty: boolean }): Document[] {
  if (!Array.isArray(value)) throw new UsageError(field, `must be an array of objects, got ${describe(value)}`);
  if (!options.allowEmpty && value.length === 0) throw new UsageError(field, 'is an empty array; give at least one object');
  value.forEach((item, i) => {
    if (!isPlainDocument(item)) throw new UsageError(`${field}[${i}]`, `must be an object, got ${describe(item)}`);
  });
  return value as Document[];
}

function optionalDocument(value: unknown, field: string): Document | undefined {
  if (value === undefined) return undefined;
  if (!isPlainDocument(value)) throw new UsageError(field, `must be an object, got ${describe(value)}`);
  return value;
}

function optionalHint(value: unknown, field: string): Document | string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string' && value !== '') return value;
  if (isPlainDocument(value)) return value;
  throw new UsageError(field, `must be an index name or an index key pattern object, got ${describe(value)}`);
}

function optionalBoolean(value: unknown, field: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw new UsageError(field, `must be true or false, got ${describe(value)}`);
  return value;
}

function optionalInteger(value: unknown, field: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new UsageError(field, `must be an integer >= ${min}, got ${describe(value)}`);
  }
  return value;
}

/** A document the command form accepts: an object literal, not a BSON value, Date, buffer or array. */
export function isPlainDocument(value: unknown): value is Document {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  if ('_bsontype' in value || value instanceof Date || ArrayBuffer.isView(value) || value instanceof Map) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value);
  if (typeof value === 'object') return '_bsontype' in value ? `a ${String((value as { _bsontype: unknown })._bsontype)}` : 'an object';
  return `${typeof value} ${String(value)}`;
}
