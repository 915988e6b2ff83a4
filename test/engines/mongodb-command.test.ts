import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ObjectId } from 'mongodb';
import { UsageError } from '../../src/errors/index.js';
import { parseMongoCommand } from '../../src/engines/mongodb/parse-mongo-command.js';

/** [title, input, expected command] */
const VALID: [string, unknown, Record<string, unknown>][] = [
  ['find with every option', '{"find": "users", "filter": {"age": {"$gt": 30}}, "projection": {"name": 1}, "sort": {"name": -1}, "limit": 10, "skip": 5, "hint": "age_1", "collation": {"locale": "fr"}, "maxTimeMS": 500, "batchSize": 100}', {
    kind: 'find', collection: 'users', filter: { age: { $gt: 30 } }, projection: { name: 1 }, sort: { name: -1 }, limit: 10, skip: 5, hint: 'age_1', collation: { locale: 'fr' }, maxTimeMS: 500, batchSize: 100,
  }],
  ['find without filter matches everything', '{"find": "users"}', { kind: 'find', collection: 'users', filter: {} }],
  ['find limit 0 means no limit, as in MongoDB', '{"find": "users", "limit": 0}', { kind: 'find', collection: 'users', filter: {}, limit: 0 }],
  ['find in another database', '{"find": "users", "database": "reporting"}', { kind: 'find', collection: 'users', filter: {}, database: 'reporting' }],
  ['aggregate', '{"aggregate": "orders", "pipeline": [{"$match": {"paid": true}}, {"$group": {"_id": "$customer", "n": {"$sum": 1}}}], "allowDiskUse": true}', {
    kind: 'aggregate', collection: 'orders', pipeline: [{ $match: { paid: true } }, { $group: { _id: '$customer', n: { $sum: 1 } } }], allowDiskUse: true,
  }],
  ['aggregate with an empty pipeline returns every document', '{"aggregate": "orders", "pipeline": []}', { kind: 'aggregate', collection: 'orders', pipeline: [] }],
  ['count', '{"count": "users", "filter": {"active": true}, "limit": 3}', { kind: 'count', collection: 'users', filter: { active: true }, limit: 3 }],
  ['insert', '{"insert": "users", "documents": [{"name": "Ada"}, {"name": "Grace"}], "ordered": false}', { kind: 'insert', collection: 'users', documents: [{ name: 'Ada' }, { name: 'Grace' }], ordered: false }],
  ['update defaults to one document, no upsert', '{"update": "users", "filter": {"name": "Ada"}, "changes": {"$set": {"age": 36}}}', {
    kind: 'update', collection: 'users', filter: { name: 'Ada' }, changes: { $set: { age: 36 } }, many: false, upsert: false,
  }],
  ['update many with upsert and arrayFilters', '{"update": "users", "filter": {}, "changes": {"$set": {"tags.$[t]": "x"}}, "many": true, "upsert": true, "arrayFilters": [{"t": "y"}]}', {
    kind: 'update', collection: 'users', filter: {}, changes: { $set: { 'tags.$[t]': 'x' } }, many: true, upsert: true, arrayFilters: [{ t: 'y' }],
  }],
  ['update with a pipeline', '{"update": "users", "filter": {}, "changes": [{"$set": {"n": {"$add": ["$n", 1]}}}]}', {
    kind: 'update', collection: 'users', filter: {}, changes: [{ $set: { n: { $add: ['$n', 1] } } }], many: false, upsert: false,
  }],
  ['delete', '{"delete": "users", "filter": {"name": "Ada"}, "many": true}', { kind: 'delete', collection: 'users', filter: { name: 'Ada' }, many: true }],
  ['runCommand', '{"runCommand": {"collStats": "users"}, "database": "app"}', { kind: 'runCommand', command: { collStats: 'users' }, database: 'app' }],
  ['an object is accepted as given', { find: 'users', filter: { n: 1 } }, { kind: 'find', collection: 'users', filter: { n: 1 } }],
  ['array short form: a command object', [{ count: 'users' }], { kind: 'count', collection: 'users', filter: {} }],
  ['array short form: a command name is value 1, like db.runCommand("ping")', ['ping'], { kind: 'runCommand', command: { ping: 1 } }],
  ['array short form: name, value and more fields', ['collStats', 'users', { scale: 1024 }], { kind: 'runCommand', command: { collStats: 'users', scale: 1024 } }],
  ['surrounding whitespace in text', '  \n{"find": "users"}\n ', { kind: 'find', collection: 'users', filter: {} }],
];

/** [title, input, argument named by the UsageError, message pattern] */
const INVALID: [string, unknown, string, RegExp][] = [
  ['empty text', '   ', 'command', /is empty/],
  ['not JSON', '{find: users}', 'command', /not valid Extended JSON/],
  ['JSON that is not an object', '[1, 2]', 'command', /must hold an object, got an array/],
  ['a number', 42, 'command', /got number 42/],
  ['null', null, 'command', /got null/],
  ['no operation', '{"filter": {}}', 'command', /names no operation \(keys: filter\); start it with one of "find"/],
  ['two operations', '{"find": "a", "count": "a"}', 'command', /names several operations \(find, count\)/],
  ['unknown field, with the allowed list', '{"find": "users", "fliter": {}}', 'fliter', /not a field of a find command; allowed: find, filter/],
  ['collection is not a string', '{"find": 3}', 'find', /collection name .* got number 3/],
  ['empty collection name', '{"count": ""}', 'count', /non-empty string/],
  ['collection name starting with $', '{"find": "$cmd"}', 'find', /not a usable collection name/],
  ['system collection', '{"delete": "system.users", "filter": {}}', 'delete', /not a usable collection name/],
  ['bad database name', '{"find": "users", "database": "a.b"}', 'database', /must be a database name/],
  ['filter is an array', '{"find": "users", "filter": [1]}', 'filter', /must be an object, got an array/],
  ['filter is an ObjectId', { find: 'users', filter: new ObjectId() }, 'filter', /must be an object, got a ObjectId/],
  ['negative limit', '{"find": "users", "limit": -1}', 'limit', /integer >= 0, got number -1/],
  ['fractional skip', '{"find": "users", "skip": 1.5}', 'skip', /integer >= 0/],
  ['limit as a string', '{"find": "users", "limit": "10"}', 'limit', /got "10"/],
  ['zero maxTimeMS', '{"find": "users", "maxTimeMS": 0}', 'maxTimeMS', /integer >= 1/],
  ['hint of the wrong type', '{"find": "users", "hint": 1}', 'hint', /index name or an index key pattern/],
  ['pipeline missing', '{"aggregate": "orders"}', 'pipeline', /must be an array of objects, got nothing/],
  ['pipeline stage not an object', '{"aggregate": "orders", "pipeline": [{"$match": {}}, "x"]}', 'pipeline[1]', /must be an object, got "x"/],
  ['insert without documents', '{"insert": "users"}', 'documents', /must be an array/],
  ['insert with no documents', '{"insert": "users", "documents": []}', 'documents', /empty array/],
  ['insert of a non-object', '{"insert": "users", "documents": [{"a": 1}, 2]}', 'documents[1]', /must be an object, got number 2/],
  ['ordered not boolean', '{"insert": "users", "documents": [{}], "ordered": "yes"}', 'ordered', /true or false/],
  ['update without filter', '{"update": "users", "changes": {"$set": {"a": 1}}}', 'filter', /required for update; give \{\} to match every document/],
  ['update without changes', '{"update": "users", "filter": {}}', 'changes', /is required/],
  ['update replacing the whole document', '{"update": "users", "filter": {}, "changes": {"name": "x"}}', 'changes', /"name" is not an update operator/],
  ['update with empty changes', '{"update": "users", "filter": {}, "changes": {}}', 'changes', /is empty/],
  ['update document given as "update" (JSON keeps the last key)', '{"update": "users", "filter": {}, "update": {"$set": {"a": 1}}}', 'update', /put the update document in "changes"/],
  ['update with the server\'s "u" field', '{"update": "users", "filter": {}, "u": {"$set": {"a": 1}}}', 'u', /put the update document in "changes"/],
  ['many not boolean', '{"update": "users", "filter": {}, "changes": {"$set": {"a": 1}}, "many": 1}', 'many', /true or false/],
  ['delete without filter', '{"delete": "users"}', 'filter', /required for delete/],
  ['runCommand empty', '{"runCommand": {}}', 'runCommand', /non-empty command object/],
  ['runCommand not an object', '{"runCommand": "ping"}', 'runCommand', /non-empty command object/],
  ['empty array', [], 'command', /empty array/],
  ['array with a number first', [1], 'command[0]', /database command name/],
  ['array with fields not an object', ['ping', 1, 'x'], 'command[2]', /object of further command fields/],
  ['array too long', ['a', 1, {}, 4], 'command', /at most 3 elements/],
  ['array with an object and more', [{ find: 'a' }, 1], 'command', /only that object/],
  ['bad $oid in Extended JSON', '{"find": "users", "filter": {"_id": {"$oid": "xyz"}}}', 'command', /not valid Extended JSON .*24 character hex/],
];

describe('parseMongoCommand', () => {
  for (const [title, input, expected] of VALID) {
    it(`accepts ${title}`, () => {
      assert.deepEqual({ ...parseMongoCommand(input) }, expected);
    });
  }

  for (const [title, input, argument, pattern] of INVALID) {
    it(`refuses ${title}`, () => {
      assert.throws(
        () => parseMongoCommand(input),
        (error: unknown) => {
          assert.ok(error instanceof UsageError, `expected UsageError, got ${String(error)}`);
          assert.equal(error.code, 'DK_USAGE');
          assert.equal(error.argument, argument);
          assert.match(error.message, pattern);
          return true;
        },
      );
    });
  }

  it('parses Extended JSON so that ObjectId, dates and 64-bit integers round-trip exactly', () => {
    const id = '65a1f0c2e4b0a1b2c3d4e5f6';
    const parsed = parseMongoCommand(`{"insert": "events", "documents": [{"_id": {"$oid": "${id}"}, "at": {"$date": "2024-05-01T12:00:00Z"}, "big": {"$numberLong": "9007199254740993"}, "n": 5, "x": 1.5}]}`);
    assert.equal(parsed.kind, 'insert');
    const doc = parsed.kind === 'insert' ? parsed.documents[0]! : {};
    assert.ok(doc._id instanceof ObjectId);
    assert.equal(doc._id.toHexString(), id);
    assert.ok(doc.at instanceof Date);
    assert.equal(doc.at.toISOString(), '2024-05-01T12:00:00.000Z');
    // Beyond 2^53: a plain JS number would have become ...992.
    assert.equal(doc.big, 9007199254740993n);
    assert.equal(doc.n, 5);
    assert.equal(doc.x, 1.5);
  });

  it('keeps driver values in objects as they are', () => {
    const id = new ObjectId();
    const parsed = parseMongoCommand({ delete: 'users', filter: { _id: id } });
    assert.equal(parsed.kind === 'delete' && parsed.filter._id, id);
  });
});
