import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Binary, Double, Int32, Long, MongoClient, ObjectId, Timestamp, type Document } from 'mongodb';
import { DataManager } from '../../src/index.js';
import { initRepository, openRepository } from '../../src/repository/index.js';
import { backupMongodb } from '../../src/engines/mongodb/backup/backup-mongodb.js';
import { captureOplog, newestOplogTime } from '../../src/engines/mongodb/backup/capture-oplog.js';
import { MongodbBackupError } from '../../src/engines/mongodb/backup/mongodb-backup-error.js';
import { parseOplogTime } from '../../src/engines/mongodb/backup/oplog-timestamp.js';
import { ferretdbBinary, ThrowawayFerretdb } from '../support/throwaway-ferretdb.js';

/**
 * MongoDB logical backups against a real wire-protocol server: a FerretDB of this file's own (SQLite backend), so
 * that the hand-made capped local.oplog.rs the point-in-time tests need changes no other suite's server. FerretDB 1.x
 * writes insert, update and delete entries into that collection (no commands, no transactions), which is what the
 * PITR tests use; snapshot reads (readConcern snapshot) need a replica set and are not tested here.
 */
const NO_BINARY = 'no ferretdb binary (scripts/install-ferretdb.sh builds it; .ci/run runs that): the MongoDB backup tests did not run';
const PASSPHRASE = 'mongodb-backup-test-passphrase';
/** Documents with any _id (the driver's default schema wants ObjectIds). */
type Doc = { _id: string | number | ObjectId; [field: string]: unknown };
const KEEP_ALL = { daily: 30, weekly: 4, monthly: 12, yearly: 5 };

function sampleOrder(i: number): Document {
  return {
    _id: new ObjectId(), n: new Int32(i), total: new Double(i + 0.25), whole: new Double(3), big: Long.fromString('9007199254740993'),
    at: new Date(1_700_000_000_000 + i), bytes: new Binary(Buffer.from([i % 256, 0, 255])),
    ts: new Timestamp({ t: 1_700_000_000, i: i + 1 }), tags: ['a', new Int32(i % 3), { deep: [null, true] }], note: `order ${i} é 😀`,
  };
}

describe('MongoDB backups against FerretDB', { skip: ferretdbBinary() ? false : NO_BINARY }, () => {
  let server: ThrowawayFerretdb;
  let raw: MongoClient;
  let work: string;
  const managers: DataManager[] = [];
  const previousPassphrase = process.env.DATAKEEP_REPO_PASSPHRASE;

  /** A DataManager for one database of the server, with its own state directory. */
  async function manager(id: string, database: string): Promise<DataManager> {
    const dm = new DataManager({ config: { databases: [{ url: server.url, database, id }], state: { dir: join(work, `state-${id}`) }, logLevel: 'error' } });
    await dm.initialize();
    managers.push(dm);
    return dm;
  }

  /** Every document of a collection as raw BSON, by _id: equal bytes mean equal types, values and field order. */
  async function rawDocuments(database: string, collection: string): Promise<string[]> {
    const docs = await raw.db(database).collection<Doc>(collection).find({}, { raw: true, sort: { _id: 1 } }).toArray();
    return docs.map((d) => (d as unknown as Buffer).toString('hex'));
  }

  async function indexes(database: string, collection: string): Promise<Document[]> {
    const list = await raw.db(database).collection<Doc>(collection).listIndexes().toArray();
    return list.map(({ v: _v, ns: _ns, ...spec }) => spec).sort((a, b) => String(a.name).localeCompare(String(b.name)));
  }

  before(async () => {
    process.env.DATAKEEP_REPO_PASSPHRASE = PASSPHRASE;
    work = mkdtempSync(join(tmpdir(), 'dk-mongo-backup-'));
    // Capped collections (the hand-made oplog) are trimmed by a background pass: every second here, not every minute.
    server = await ThrowawayFerretdb.start({ name: 'mongo-backup', args: ['--test-capped-cleanup-interval=1s'] });
    raw = new MongoClient(server.url);
    await raw.connect();
  });

  after(async () => {
    for (const dm of managers) await dm.close().catch(() => undefined);
    await raw?.close();
    await server?.stop();
    rmSync(work, { recursive: true, force: true });
    if (previousPassphrase === undefined) delete process.env.DATAKEEP_REPO_PASSPHRASE;
    else process.env.DATAKEEP_REPO_PASSPHRASE = previousPassphrase;
  });

  it('backs up several collections with their indexes and options, and restores them into another database exactly', async () => {
    const shop = raw.db('shop');
    await shop.collection('orders').insertMany(Array.from({ length: 2500 }, (_, i) => sampleOrder(i)));
    await shop.collection('orders').createIndexes([{ key: { n: 1 }, name: 'n_1', unique: true }, { key: { at: -1, total: 1 }, name: 'at_total' }]);
    await shop.collection<Doc>('customers').insertMany([{ _id: 'ada', email: 'ada@example.org' }, { _id: 'bob', email: 'bob@example.org', vip: true }]);
    await shop.collection<Doc>('customers').createIndex({ email: 1 }, { unique: true, name: 'email_unique' });
    await shop.createCollection('recent', { capped: true, size: 1024 * 1024 });
    await shop.collection<Doc>('recent').insertMany([{ _id: 1, what: 'first' }, { _id: 2, what: 'second' }]);
    await shop.createCollection('empty');

    const dm = await manager('shop', 'shop');
    const destination = join(work, 'backups');
    const result = await dm.createBackup({ type: 'full', destination, compression: true, encryption: true, retention: KEEP_ALL });
    assert.deepEqual(result.skipped, []);
    const [member] = result.databases;
    assert.equal(member?.database, 'shop');
    assert.equal(member?.method, 'logical');
    assert.equal(member?.walSegments, 0, 'no local.oplog.rs yet: no oplog slices');
    const [summary] = await dm.backups.listBackups({ destination });
    assert.equal(summary?.metadata.consistency, 'none');
    assert.equal(summary?.metadata.documents, 2504);
    assert.equal(summary?.metadata.ferretdb, true);

    const restored = await dm.backups.restoreBackup(result.backupId, { destination, target: { url: server.url, database: 'shop_copy' } });
    assert.equal(restored.backupId, result.backupId);
    assert.match(restored.to, /\/shop_copy$/);
    for (const name of ['orders', 'customers', 'recent', 'empty']) {
      assert.deepEqual(await rawDocuments('shop_copy', name), await rawDocuments('shop', name), `documents of ${name}`);
      assert.deepEqual(await indexes('shop_copy', name), await indexes('shop', name), `indexes of ${name}`);
    }
    const options = async (db: string) => ((await raw.db(db).listCollections({ name: 'recent' }).toArray())[0] as Document | undefined)?.options;
    assert.deepEqual(await options('shop_copy'), await options('shop'));
    assert.equal((await options('shop_copy'))?.capped, true);
    // The unique index came back as unique: a duplicate is refused.
    await assert.rejects(raw.db('shop_copy').collection<Doc>('customers').insertOne({ _id: 'eve', email: 'ada@example.org' }), /duplicate key/i);

    // Restoring again over what is there is refused before anything is written; replace drops and restores.
    const again = await dm.backups.restoreBackup(result.backupId, { destination, target: { url: server.url, database: 'shop_copy' } }).catch((e: unknown) => e);
    assert.ok(again instanceof MongodbBackupError && again.reason === 'unsafe-target', String(again));
    await dm.backups.restoreBackup(result.backupId, { destination, target: { url: server.url, database: 'shop_copy', replace: true } });
    assert.deepEqual(await rawDocuments('shop_copy', 'customers'), await rawDocuments('shop', 'customers'));

    // A restore without a target server says what to give.
    await assert.rejects(dm.backups.restoreBackup(result.backupId, { destination }), /target/);
    const verified = await dm.backups.verifyBackup(result.backupId, { destination });
    assert.equal(verified.ok, true, JSON.stringify(verified.problems));
  });

  it('verify finds a corrupted chunk of a collection file', async () => {
    const dm = managers[0]!;
    const destination = join(work, 'corrupt');
    const { backupId } = await dm.createBackup({ type: 'full', destination, compression: true, encryption: true, retention: KEEP_ALL });
    const chunks = join(destination, 'shop', 'chunks');
    const dir = readdirSync(chunks).sort()[0]!;
    const chunk = join(chunks, dir, readdirSync(join(chunks, dir)).sort()[0]!);
    const bytes = readFileSync(chunk);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    writeFileSync(chunk, bytes);
    const report = await dm.backups.verifyBackup(backupId, { destination });
    assert.equal(report.ok, false);
    assert.ok(report.problems.some((p) => p.kind === 'corrupt-chunk'), JSON.stringify(report.problems));
  });

  it('streams a collection much larger than the memory it takes', async () => {
    const db = raw.db('big');
    const filler = 'x'.repeat(2000);
    // 80 MB: large enough that buffering would show far above the bound, small enough for CI's time budget (FerretDB
    // on SQLite writes and reads at a few MB/s on a loaded machine).
    const total = 40_000;
    const fill = async (from: number, to: number) => {
      for (let i = from; i < to; i += 2000) {
        await db.collection<Doc>('events').insertMany(Array.from({ length: Math.min(2000, to - i) }, (_, j) => ({ _id: i + j, filler, k: `${i + j}-${Math.random()}` })));
      }
    };
    // The driver's backup itself, into one repository: a first backup of a quarter of the collection warms what stays
    // (the chunk workers and their buffers), so the baseline holds it. Streaming means the second backup, of four
    // times the data, needs no more than that; buffering would add at least the collection's size.
    const repository = await initRepository(join(work, 'big'), { passphrase: PASSPHRASE, compression: 'zstd', workers: 2 });
    const client = new MongoClient(server.url);
    try {
      await fill(0, total / 4);
      await backupMongodb({ client, database: 'big', id: 'big', repository });
      await fill(total / 4, total);
      global.gc?.();
      const baseline = process.memoryUsage().rss;
      let peak = baseline;
      const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
      const result = await backupMongodb({ client, database: 'big', id: 'big', repository }).finally(() => clearInterval(sampler));
      assert.ok(result.sizeBytes > 80_000_000, `collection file of ${result.sizeBytes} bytes`);
      assert.ok(peak - baseline < result.sizeBytes / 2, `RSS grew by ${peak - baseline} bytes while backing up ${result.sizeBytes} bytes`);
    } finally {
      await client.close();
      await repository.close();
    }
    // The DataManager path restores it all (documents streamed back in batches), checked by count and by a sample.
    const dm = await manager('big', 'big');
    const destination = join(work, 'big-dm');
    const { backupId } = await dm.createBackup({ type: 'full', destination, compression: true, encryption: true, retention: KEEP_ALL });
    const restored = await dm.backups.restoreBackup(backupId, { destination, target: { url: server.url, database: 'big_copy' } });
    assert.ok(restored.note?.startsWith(`${total} document(s)`), restored.note);
    assert.equal(await raw.db('big_copy').collection('events').countDocuments(), total);
    const sample = await raw.db('big_copy').collection<Doc>('events').findOne({ _id: total - 1 });
    assert.equal(sample?.k, (await db.collection<Doc>('events').findOne({ _id: total - 1 }))?.k);
  });

  it('point-in-time: the backup carries the oplog written while it ran, later slices reach a chosen second', async () => {
    // FerretDB logs changes only into a capped local.oplog.rs made by hand (its "basic oplog").
    await raw.db('local').createCollection('oplog.rs', { capped: true, size: 64 * 1024 * 1024 });
    const ledger = raw.db('ledger');
    await ledger.collection<Doc>('entries').insertMany(Array.from({ length: 50 }, (_, i) => ({ _id: i, amount: new Int32(i) })));
    const dm = await manager('ledger', 'ledger');
    const destination = join(work, 'pitr');
    const backup = await dm.createBackup({ type: 'full', destination, compression: true, encryption: true, retention: KEEP_ALL });
    const [summary] = await dm.backups.listBackups({ destination });
    assert.equal(summary?.metadata.consistency, 'oplog');
    const backupEnd = parseOplogTime(String(summary?.metadata.oplogEnd))!;

    // After the backup: changes before the target, the target, changes after it.
    await ledger.collection<Doc>('entries').updateOne({ _id: 1 }, { $set: { amount: new Int32(100) }, $unset: { missing: '' } });
    await ledger.collection<Doc>('entries').insertOne({ _id: 'before', amount: new Int32(7) });
    await ledger.collection<Doc>('entries').deleteOne({ _id: 2 });
    await raw.db('other').collection<Doc>('noise').insertOne({ _id: 'not ledger' });
    await new Promise((r) => setTimeout(r, 2100));
    const target = new Date(Math.floor(Date.now() / 1000) * 1000 - 1);
    await new Promise((r) => setTimeout(r, 1100));
    await ledger.collection<Doc>('entries').insertOne({ _id: 'after', amount: new Int32(9) });
    await ledger.collection<Doc>('entries').deleteOne({ _id: 3 });
    const expectedAtTarget = (await rawDocuments('ledger', 'entries')).length; // 50 + before - 2 + after - 3 = 50

    // The continuous capture's job (what a follower process does): copy the oplog from the backup's end.
    const repository = await openRepository(join(destination, 'ledger'), { passphrase: PASSPHRASE, workers: 1 });
    const client = new MongoClient(server.url);
    try {
      const until = (await newestOplogTime(client))!;
      const captured = await captureOplog({ client, database: 'ledger', repository, after: backupEnd, until });
      assert.ok(captured.entries >= 5, `captured ${captured.entries} entries`);
    } finally {
      await client.close();
      await repository.close();
    }
    const [window] = await dm.backups.window('ledger', { destination });
    assert.ok(window?.to?.time !== undefined && Date.parse(window.to.time) >= target.getTime(), JSON.stringify(window));
    assert.equal(window?.firstMissingWal, undefined);

    await dm.backups.restoreBackup(undefined, { destination, target: { url: server.url, database: 'ledger_pitr' }, targetTime: target });
    const atTarget = await raw.db('ledger_pitr').collection('entries').find({}, { sort: { _id: 1 } }).toArray();
    const byId = new Map(atTarget.map((d) => [String(d._id), d]));
    assert.equal(byId.get('1')?.amount, 100, 'the update before the target is replayed');
    assert.ok(byId.has('before') && !byId.has('2'), 'the insert and delete before the target are replayed');
    assert.ok(!byId.has('after') && byId.has('3'), 'nothing after the target is');
    assert.equal(atTarget.length, expectedAtTarget);
    assert.equal(await raw.db('ledger_pitr').collection('noise').countDocuments(), 0, 'other databases\' entries are not replayed');

    // Past the end of the captured oplog: refused, naming where it ends.
    const beyond = await dm.backups.restoreBackup(undefined, { destination, target: { url: server.url, database: 'ledger_late' }, targetTime: new Date(Date.now() + 60_000) }).catch((e: unknown) => e);
    assert.ok(beyond instanceof MongodbBackupError && beyond.reason === 'target-unreachable', String(beyond));
    assert.equal(backup.databases[0]!.walSegments >= 0, true);
  });

  it('detects an oplog that rolled past the position a capture continues from', async () => {
    // A tiny capped oplog: later writes push the backup's end position out of it.
    await raw.db('local').collection('oplog.rs').drop();
    await raw.db('local').createCollection('oplog.rs', { capped: true, size: 4096, max: 5 });
    const ledger = raw.db('gaps');
    await ledger.collection<Doc>('g').insertOne({ _id: 0 });
    const dm = await manager('gaps', 'gaps');
    const destination = join(work, 'gaps');
    await dm.createBackup({ type: 'full', destination, compression: true, encryption: true, retention: KEEP_ALL });
    const [summary] = await dm.backups.listBackups({ destination });
    const end = parseOplogTime(String(summary?.metadata.oplogEnd))!;
    await ledger.collection<Doc>('g').insertMany(Array.from({ length: 20 }, (_, i) => ({ _id: i + 1 })));
    // FerretDB trims capped collections in the background: wait (bounded) until the backup's end entry is gone.
    const oplog = raw.db('local').collection('oplog.rs');
    const deadline = Date.now() + 60_000;
    while ((await oplog.countDocuments({ ts: new Timestamp({ t: end.t, i: end.i }) })) > 0) {
      assert.ok(Date.now() < deadline, 'FerretDB did not trim the capped oplog within 60 s');
      await new Promise((r) => setTimeout(r, 200));
    }
    const repository = await openRepository(join(destination, 'gaps'), { passphrase: PASSPHRASE, workers: 1 });
    const client = new MongoClient(server.url);
    try {
      const failure = await captureOplog({ client, database: 'gaps', repository, after: end, until: (await newestOplogTime(client))! }).catch((e: unknown) => e);
      assert.ok(failure instanceof MongodbBackupError && failure.reason === 'oplog-gap', String(failure));
    } finally {
      await client.close();
      await repository.close();
    }
  });
});
