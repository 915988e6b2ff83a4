import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { MongoClient, ObjectId, type Document } from 'mongodb';
import { resolveDatabaseConfig } from '../../src/config/resolve-database-config.js';
import { CapabilityError, DatakeepError, QueryError, TransactionError, UsageError } from '../../src/errors/index.js';
import { classifyTopology } from '../../src/engines/mongodb/classify-topology.js';
import { MongodbAdapter } from '../../src/engines/mongodb/mongodb-adapter.js';
import { silentLogger } from '../../src/util/logger.js';

/**
 * Behaviour against a real MongoDB given by MONGODB_URL: the JSON command form end to end, transactions (on a replica
 * set), the standalone refusal (on a standalone), health from hello. Skipped, with the reason, without MONGODB_URL.
 */
const url = process.env.MONGODB_URL;
const NO_SERVER = 'MONGODB_URL not set: no MongoDB server here (set it to a mongodb:// URL to run these tests)';

if (!url) {
  // One visible skipped test (a skipped describe would not show in the pass/fail/skip counts).
  it('MongoDB adapter against MONGODB_URL: command form, health, transactions', { skip: NO_SERVER }, () => {});
} else describe('MongoDB adapter against MONGODB_URL', () => {
  const database = `dk_test_${randomBytes(5).toString('hex')}`;
  // A unique appName lets failCommand fail points target this file's connections only.
  const appName = `dk-it-${randomBytes(4).toString('hex')}`;
  let adapter: MongodbAdapter;
  let raw: MongoClient;
  let hello: Document;

  before(async () => {
    raw = new MongoClient(url!);
    await raw.connect();
    hello = await raw.db('admin').command({ hello: 1 });
    adapter = new MongodbAdapter(resolveDatabaseConfig({ url: url!, database, id: 'mongo-it', applicationName: appName }, 'test'), { logger: silentLogger });
    await adapter.connect();
  });

  after(async () => {
    await adapter?.close();
    if (raw) {
      await raw.db(database).dropDatabase().catch(() => undefined);
      await raw.close();
    }
  });

  const replicaSet = () => classifyTopology(hello).transactions;

  describe('the JSON command form', () => {
    it('inserts Extended JSON and reads ObjectId and dates back as driver values', async () => {
      const id = new ObjectId().toHexString();
      const inserted = await adapter.command(`{"insert": "people", "documents": [{"_id": {"$oid": "${id}"}, "name": "Ada", "born": {"$date": "1815-12-10T00:00:00Z"}, "big": {"$numberLong": "9007199254740993"}}]}`);
      const summary = inserted as { insertedCount: number; insertedIds: unknown[] };
      assert.equal(summary.insertedCount, 1);
      assert.deepEqual(summary.insertedIds.map((v) => (v instanceof ObjectId ? v.toHexString() : v)), [id]);
      const docs = (await adapter.command(`{"find": "people", "filter": {"_id": {"$oid": "${id}"}}}`)) as Document[];
      assert.equal(docs.length, 1);
      assert.ok(docs[0]!._id instanceof ObjectId);
      assert.equal(docs[0]!._id.toHexString(), id);
      assert.ok(docs[0]!.born instanceof Date);
      assert.equal(docs[0]!.born.toISOString(), '1815-12-10T00:00:00.000Z');
      // Stored as a 64-bit integer, exactly (the driver returns it as a number or Long depending on its options).
      const stored = (await raw.db(database).collection('people').findOne({ _id: new ObjectId(id) }, { promoteLongs: false }))!;
      assert.equal(String(stored.big), '9007199254740993');
    });

    it('execute returns the server\'s n for each write, and query the documents', async () => {
      assert.equal(await adapter.execute({ insert: 'counts', documents: [{ k: 1 }, { k: 2 }, { k: 3 }] }), 3);
      assert.equal(await adapter.execute({ update: 'counts', filter: { k: { $gte: 2 } }, changes: { $set: { big: true } }, many: true }), 2);
      // Matched but unchanged documents still count, as PostgreSQL counts rows an UPDATE applied to.
      assert.equal(await adapter.execute({ update: 'counts', filter: { k: { $gte: 2 } }, changes: { $set: { big: true } }, many: true }), 2);
      assert.equal(await adapter.execute({ update: 'counts', filter: { k: 9 }, changes: { $set: { big: false } }, upsert: true }), 1);
      assert.equal(await adapter.command({ count: 'counts' }), 4);
      const rows = await adapter.query<{ k: number }>({ find: 'counts', filter: {}, projection: { _id: 0, k: 1 }, sort: { k: 1 } });
      assert.deepEqual(rows, [{ k: 1 }, { k: 2 }, { k: 3 }, { k: 9 }]);
      const grouped = await adapter.query({ aggregate: 'counts', pipeline: [{ $group: { _id: '$big', n: { $sum: 1 } } }, { $sort: { _id: 1 } }] });
      // BSON order sorts null before booleans; k: 1 has no "big" field.
      assert.deepEqual(grouped, [{ _id: null, n: 1 }, { _id: false, n: 1 }, { _id: true, n: 2 }]);
      assert.equal(await adapter.execute({ delete: 'counts', filter: { k: 1 } }), 1);
      assert.equal(await adapter.execute({ delete: 'counts', filter: {}, many: true }), 3);
    });

    it('runCommand and the array short form', async () => {
      const ping = (await adapter.command(['ping'])) as Document;
      assert.equal(ping.ok, 1);
      const stats = (await adapter.command({ runCommand: { dbStats: 1 } })) as Document;
      assert.equal(stats.db, database);
    });

    it('a malformed command is a UsageError and never reaches the server', async () => {
      const before = adapter.metrics().queries.total;
      await assert.rejects(adapter.command('{"update": "people", "changes": {"$set": {"a": 1}}}'), UsageError);
      await assert.rejects(adapter.query('{"find": "people"}', [1]), UsageError);
      assert.equal(adapter.metrics().queries.total, before);
    });

    it('a server error is a QueryError with the codeName as sqlState', async () => {
      await adapter.execute({ insert: 'uniq', documents: [{ _id: 'x' }] });
      await assert.rejects(adapter.execute({ insert: 'uniq', documents: [{ _id: 'x' }] }), (error: unknown) => {
        assert.ok(error instanceof QueryError);
        assert.equal(error.sqlState, 'DuplicateKey');
        return true;
      });
    });

    it('counts commands and connections from the driver\'s events', async () => {
      const before = adapter.metrics();
      await adapter.command({ find: 'people' });
      const m = adapter.metrics();
      assert.equal(m.queries.total, before.queries.total + 1);
      assert.ok(m.connections.total >= 1);
      assert.equal(m.connections.active, 0);
      assert.equal(m.connections.waiting, 0);
    });
  });

  describe('health from hello', () => {
    it('reports the role, the set and the server version', async () => {
      const health = await adapter.health();
      assert.equal(health.status, 'healthy', health.reasons.join('; '));
      const topology = classifyTopology(hello);
      assert.equal(health.details?.topology, topology.kind);
      assert.equal(health.details?.setName, topology.setName);
      const build = await raw.db('admin').command({ buildInfo: 1 });
      assert.equal(health.serverVersion, build.version);
      if (topology.kind === 'replica-set') {
        assert.equal(health.details?.role, 'primary');
        assert.equal(health.inRecovery, false);
        assert.ok(Array.isArray(health.details?.hosts));
      }
    });
  });

  describe('transactions', () => {
    before(async () => {
      // Collections exist before the transactions that use them: creating one inside a transaction needs 4.4+, and
      // reads of it from outside would wait for the transaction.
      if (!replicaSet()) return;
      for (const name of ['ledger', 'aborted', 'swallow', 'race', 'transient', 'commit_retry', 'never']) {
        await raw.db(database).createCollection(name);
      }
    });

    it('a standalone server refuses with a capability error that explains how to get a replica set', async (t) => {
      if (replicaSet()) return t.skip('MONGODB_URL points to a replica set or mongos; this check runs when it points to a standalone mongod');
      await assert.rejects(adapter.transaction(async () => 1), (error: unknown) => {
        assert.ok(error instanceof CapabilityError);
        assert.match(error.message, /replica set/);
        assert.match(error.message, /--replSet rs0/);
        assert.match(error.message, /rs\.initiate\(\)/);
        return true;
      });
    });

    it('commits, binding tx commands and adapter commands inside the callback to the session', async (t) => {
      if (!replicaSet()) return t.skip('needs a MongoDB replica set: MONGODB_URL points to a standalone server, and transactions need a replica set');
      const before = adapter.metrics().transactions.committed;
      const result = await adapter.transaction(async (tx) => {
        await tx.execute({ insert: 'ledger', documents: [{ _id: 'a', amount: 10 }] });
        await adapter.command({ insert: 'ledger', documents: [{ _id: 'b', amount: -10 }] });
        // Not visible outside the transaction before the commit.
        assert.equal(await raw.db(database).collection('ledger').countDocuments({}), 0);
        return (await tx.query({ find: 'ledger', sort: { _id: 1 } })).map((d) => d._id);
      });
      assert.deepEqual(result, ['a', 'b']);
      assert.equal(await raw.db(database).collection('ledger').countDocuments({}), 2);
      assert.equal(adapter.metrics().transactions.committed, before + 1);
    });

    it('aborts when the callback throws, and the caller sees its own error', async (t) => {
      if (!replicaSet()) return t.skip('needs a MongoDB replica set: MONGODB_URL points to a standalone server, and transactions need a replica set');
      const before = adapter.metrics().transactions.rolledBack;
      await assert.rejects(
        adapter.transaction(async (tx) => {
          await tx.execute({ insert: 'aborted', documents: [{ _id: 1 }] });
          throw new Error('out of stock');
        }),
        /out of stock/,
      );
      assert.equal(await raw.db(database).collection('aborted').countDocuments({}), 0);
      assert.equal(adapter.metrics().transactions.rolledBack, before + 1);
    });

    it('a failed command that the callback swallows prevents the commit', async (t) => {
      if (!replicaSet()) return t.skip('needs a MongoDB replica set: MONGODB_URL points to a standalone server, and transactions need a replica set');
      await raw.db(database).collection('swallow').insertOne({ _id: 'taken' } as Document);
      await assert.rejects(
        adapter.transaction(async (tx) => {
          await tx.execute({ insert: 'swallow', documents: [{ _id: 'new' }] });
          await tx.execute({ insert: 'swallow', documents: [{ _id: 'taken' }] }).catch(() => undefined);
        }),
        TransactionError,
      );
      assert.equal(await raw.db(database).collection('swallow').countDocuments({ _id: 'new' } as Document), 0);
    });

    it('savepoints, nesting and SQL scripts are capability errors; commands after the end are refused', async (t) => {
      if (!replicaSet()) return t.skip('needs a MongoDB replica set: MONGODB_URL points to a standalone server, and transactions need a replica set');
      let leaked: { query(c: string): Promise<unknown> } | undefined;
      await adapter.transaction(async (tx) => {
        await assert.rejects(tx.savepoint(), CapabilityError);
        await assert.rejects(tx.transaction(async () => 1), CapabilityError);
        await assert.rejects(adapter.transaction(async () => 1), CapabilityError);
        await assert.rejects(tx.script('SELECT 1'), CapabilityError);
        leaked = tx;
      });
      await assert.rejects(leaked!.query('{"find": "x"}'), TransactionError);
    });

    it('a write conflict between two transactions re-runs the loser, and the final value is right', async (t) => {
      if (!replicaSet()) return t.skip('needs a MongoDB replica set: MONGODB_URL points to a standalone server, and transactions need a replica set');
      const coll = raw.db(database).collection('race');
      await coll.insertOne({ _id: 'k', n: 0 } as Document);
      const retriedBefore = adapter.metrics().transactions.retried;
      let loserRuns = 0;
      let loserRetried!: () => void;
      const loserWasRetried = new Promise<void>((resolve) => (loserRetried = resolve));
      let winnerWrote!: () => void;
      const winnerHasWritten = new Promise<void>((resolve) => (winnerWrote = resolve));
      const increment = { update: 'race', filter: { _id: 'k' }, changes: { $inc: { n: 1 } } };
      const winner = adapter.transaction(async (tx) => {
        await tx.execute(increment);
        winnerWrote();
        // Hold the write until the other transaction has hit the conflict and been re-run at least once.
        await loserWasRetried;
      });
      await winnerHasWritten;
      const loser = adapter.transaction(async (tx) => {
        loserRuns += 1;
        if (loserRuns === 2) loserRetried();
        await tx.execute(increment);
      });
      await Promise.all([winner, loser]);
      assert.ok(loserRuns >= 2, `the loser ran ${loserRuns} time(s)`);
      assert.equal((await coll.findOne({ _id: 'k' } as Document))!.n, 2);
      assert.ok(adapter.metrics().transactions.retried > retriedBefore);
    });

    describe('with failCommand fail points (mongod --setParameter enableTestCommands=1)', () => {
      let failPoints = false;
      before(async () => {
        if (!replicaSet()) return;
        try {
          await raw.db('admin').command({ configureFailPoint: 'failCommand', mode: 'off' });
          failPoints = true;
        } catch {
          failPoints = false;
        }
      });
      after(async () => {
        if (failPoints) await raw.db('admin').command({ configureFailPoint: 'failCommand', mode: 'off' });
      });
      const skipReason = () => {
        if (!replicaSet()) return 'transactions need a replica set';
        if (!failPoints) return 'the server does not allow configureFailPoint (start mongod with --setParameter enableTestCommands=1)';
        // The fail points match this file's appName; a URL that sets its own appName would win over it.
        if (/[?&]appname=/i.test(url!)) return 'MONGODB_URL sets appName, so fail points cannot target this test\'s connections only';
        return undefined;
      };

      it('TransientTransactionError from a command re-runs the whole body once, and commits once', async (t) => {
        const reason = skipReason();
        if (reason) return t.skip(reason);
        await raw.db('admin').command({
          configureFailPoint: 'failCommand',
          mode: { times: 1 },
          data: { failCommands: ['insert'], errorCode: 112, errorLabels: ['TransientTransactionError'], appName },
        });
        let runs = 0;
        await adapter.transaction(async (tx) => {
          runs += 1;
          await tx.execute({ insert: 'transient', documents: [{ run: runs }] });
        });
        assert.equal(runs, 2);
        const docs = await raw.db(database).collection('transient').find({}, { projection: { _id: 0 } }).toArray();
        assert.deepEqual(docs, [{ run: 2 }]);
      });

      it('UnknownTransactionCommitResult re-runs only the commit', async (t) => {
        const reason = skipReason();
        if (reason) return t.skip(reason);
        // More failures than the driver's own commit retry absorbs, so that the adapter's commit-only retry must act.
        await raw.db('admin').command({
          configureFailPoint: 'failCommand',
          mode: { times: 4 },
          data: { failCommands: ['commitTransaction'], errorCode: 91, appName },
        });
        const retriedBefore = adapter.metrics().transactions.retried;
        let runs = 0;
        await adapter.transaction(async (tx) => {
          runs += 1;
          await tx.execute({ insert: 'commit_retry', documents: [{ _id: 'only-once' }] });
        });
        assert.equal(runs, 1);
        assert.equal(await raw.db(database).collection('commit_retry').countDocuments({}), 1);
        assert.ok(adapter.metrics().transactions.retried > retriedBefore);
      });

      it('the time limit stops the re-runs with a TransactionError that keeps the last error', async (t) => {
        const reason = skipReason();
        if (reason) return t.skip(reason);
        await raw.db('admin').command({
          configureFailPoint: 'failCommand',
          mode: 'alwaysOn',
          data: { failCommands: ['insert'], errorCode: 112, errorLabels: ['TransientTransactionError'], appName },
        });
        try {
          await assert.rejects(
            adapter.transaction(async (tx) => tx.execute({ insert: 'never', documents: [{}] }), { timeLimitMs: 200 }),
            (error: unknown) => {
              assert.ok(error instanceof TransactionError, String(error));
              assert.match(error.message, /time limit of 200 ms/);
              assert.ok(error.attempts >= 1);
              assert.ok(error.cause instanceof DatakeepError);
              return true;
            },
          );
        } finally {
          await raw.db('admin').command({ configureFailPoint: 'failCommand', mode: 'off' });
        }
      });
    });
  });
});
