import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DataManager } from '../../src/data-manager.js';
import { CapabilityError, ConnectionError, UnknownAdapterError, UsageError } from '../../src/errors/index.js';
import type { RedisTransactionContext } from '../../src/engines/redis/redis-transaction-context.js';
import { DistributedTransactionError } from '../../src/transactions/distributed-transaction-error.js';
import { TransactionFixture } from '../support/transaction-fixture.js';

describe('distributed transactions: PostgreSQL x2, MariaDB, Redis', () => {
  let fx: TransactionFixture;
  let dm: DataManager;
  const key = (k: string) => `${fx.prefix}${k}`;

  before(async () => {
    fx = await TransactionFixture.start();
    dm = await fx.manager();
    await dm.transactions.run('pg1', (tx) => tx.script('CREATE TABLE parent (id int PRIMARY KEY); CREATE TABLE t (id int PRIMARY KEY, v text, parent int REFERENCES parent DEFERRABLE INITIALLY DEFERRED)'));
    await dm.queryDatabase('pg2', 'CREATE TABLE t (id int PRIMARY KEY, v text)');
    await dm.queryDatabase('maria', 'CREATE TABLE t (id int PRIMARY KEY, v varchar(20)) ENGINE=InnoDB');
  });
  after(async () => {
    await fx?.close();
  });

  const rowsEverywhere = async (id: number) => ({
    pg1: (await dm.database('pg1').query('SELECT v FROM t WHERE id = ?', [id])).length,
    pg2: (await dm.database('pg2').query('SELECT v FROM t WHERE id = ?', [id])).length,
    maria: (await dm.database('maria').query('SELECT v FROM t WHERE id = ?', [id])).length,
    cache: (await fx.redis.exists(key(`t:${id}`))),
  });
  const nothingPrepared = async () => {
    assert.deepEqual(await fx.pgPrepared(), [], 'pg_prepared_xacts holds none of ours');
    assert.deepEqual(await fx.xaPrepared(), [], 'XA RECOVER holds none of ours');
  };

  it('commits across two PostgreSQL databases, MariaDB and Redis (last resource): every participant sees the writes', async () => {
    const result = await dm.transactions.distributed(['pg1', 'pg2', 'maria', 'cache'], async (tx) => {
      await tx.on('pg1').execute('INSERT INTO t (id, v) VALUES (?, ?)', [1, 'one']);
      await tx.on('pg2').execute('INSERT INTO t (id, v) VALUES (?, ?)', [1, 'one']);
      await tx.on('maria').execute('INSERT INTO t (id, v) VALUES (?, ?)', [1, 'one']);
      tx.on<RedisTransactionContext>('cache').queue(['SET', key('t:1'), 'one']);
      return 'done';
    });
    assert.equal(result.outcome, 'committed');
    assert.equal(result.value, 'done');
    assert.deepEqual(await rowsEverywhere(1), { pg1: 1, pg2: 1, maria: 1, cache: 1 });
    await nothingPrepared();
    assert.equal(await fx.redis.exists(`datakeep:tx:${fx.nodeId}:${result.globalId}`), 0, 'the commit marker is removed once finished');
    // The finishing mark is written off the caller's path, a few milliseconds later.
    const record = async () => (await (await dm.state()).adapter.query('SELECT state, decision, outcome FROM datakeep.tx_log WHERE global_id = ?', [result.globalId]))[0];
    for (let i = 0; i < 200 && (await record())?.state !== 'finished'; i += 1) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(await record(), { state: 'finished', decision: 'commit', outcome: 'committed' });
  });

  it('a deferred constraint that fails at PREPARE aborts every participant, including the last resource', async () => {
    const error = await dm.transactions.distributed(['pg1', 'pg2', 'maria', 'cache'], async (tx) => {
      await tx.on('pg1').execute('INSERT INTO t (id, v, parent) VALUES (?, ?, ?)', [2, 'two', 999]); // no parent 999
      await tx.on('pg2').execute('INSERT INTO t (id, v) VALUES (?, ?)', [2, 'two']);
      await tx.on('maria').execute('INSERT INTO t (id, v) VALUES (?, ?)', [2, 'two']);
      tx.on<RedisTransactionContext>('cache').queue(['SET', key('t:2'), 'two']);
    }).then(() => assert.fail('expected an abort'), (e: unknown) => e);
    assert.ok(error instanceof DistributedTransactionError, String(error));
    assert.equal(error.outcome, 'aborted');
    assert.equal((error.cause as { sqlState?: string }).sqlState, '23503', 'the foreign key violation is the cause');
    assert.deepEqual(await rowsEverywhere(2), { pg1: 0, pg2: 0, maria: 0, cache: 0 });
    await nothingPrepared();
  });

  it('a PostgreSQL branch whose connection is killed before PREPARE aborts every participant', async () => {
    const error = await dm.transactions.distributed(['pg1', 'pg2', 'maria', 'cache'], async (tx) => {
      const pid = (await tx.on('pg2').query<{ pid: number }>('SELECT pg_backend_pid() AS pid'))[0]!.pid;
      await tx.on('pg1').execute('INSERT INTO t (id, v) VALUES (?, ?)', [3, 'three']);
      await tx.on('pg2').execute('INSERT INTO t (id, v) VALUES (?, ?)', [3, 'three']);
      await tx.on('maria').execute('INSERT INTO t (id, v) VALUES (?, ?)', [3, 'three']);
      tx.on<RedisTransactionContext>('cache').queue(['SET', key('t:3'), 'three']);
      await fx.cluster.query('SELECT pg_terminate_backend($1)', [pid]);
    }).then(() => assert.fail('expected an abort'), (e: unknown) => e);
    assert.ok(error instanceof DistributedTransactionError, String(error));
    assert.equal(error.outcome, 'aborted');
    assert.ok(error.cause instanceof ConnectionError, `cause: ${String(error.cause)}`);
    assert.deepEqual(await rowsEverywhere(3), { pg1: 0, pg2: 0, maria: 0, cache: 0 });
    await nothingPrepared();
  });

  it('a MariaDB branch whose connection is killed before XA PREPARE aborts every participant', async () => {
    const error = await dm.transactions.distributed(['pg1', 'maria'], async (tx) => {
      const id = (await tx.on('maria').query<{ id: number }>('SELECT CONNECTION_ID() AS id'))[0]!.id;
      await tx.on('pg1').execute('INSERT INTO t (id, v) VALUES (?, ?)', [4, 'four']);
      await tx.on('maria').execute('INSERT INTO t (id, v) VALUES (?, ?)', [4, 'four']);
      await fx.mariaQuery(`KILL ${Number(id)}`);
    }).then(() => assert.fail('expected an abort'), (e: unknown) => e);
    assert.ok(error instanceof DistributedTransactionError, String(error));
    assert.equal(error.outcome, 'aborted');
    assert.deepEqual(await rowsEverywhere(4), { pg1: 0, pg2: 0, maria: 0, cache: 0 });
    await nothingPrepared();
  });

  it('an error thrown by the callback aborts every participant and is the cause', async () => {
    const boom = new Error('application says no');
    const error = await dm.transactions.distributed(['pg1', 'maria', 'cache'], async (tx) => {
      await tx.on('pg1').execute('INSERT INTO t (id, v) VALUES (?, ?)', [5, 'five']);
      await tx.on('maria').execute('INSERT INTO t (id, v) VALUES (?, ?)', [5, 'five']);
      tx.on<RedisTransactionContext>('cache').queue(['SET', key('t:5'), 'five']);
      throw boom;
    }).then(() => assert.fail('expected an abort'), (e: unknown) => e);
    assert.ok(error instanceof DistributedTransactionError);
    assert.equal(error.cause, boom);
    assert.deepEqual(await rowsEverywhere(5), { pg1: 0, pg2: 0, maria: 0, cache: 0 });
    await nothingPrepared();
  });

  it('refuses two one-phase participants, an unknown id and a duplicate before anything runs', async () => {
    const two = await dm.transactions.distributed(['pg1', 'cache', 'cache2'], async () => undefined).catch((e: unknown) => e);
    // cache2 is not configured: the unknown id is reported first, naming the known ids.
    assert.ok(two instanceof UnknownAdapterError);
    assert.match(two.message, /cache2.*known ids: pg1, pg2, maria, cache/);
    const dup = await dm.transactions.distributed(['pg1', 'pg1'], async () => undefined).catch((e: unknown) => e);
    assert.ok(dup instanceof UsageError);
    assert.match(dup.message, /listed twice/);
  });

  it('a participant that is not in the list is a UsageError inside the callback, and the transaction aborts', async () => {
    const error = await dm.transactions.distributed(['pg1', 'pg2'], async (tx) => {
      tx.on('maria');
    }).catch((e: unknown) => e);
    assert.ok(error instanceof DistributedTransactionError);
    assert.ok(error.cause instanceof UsageError);
    assert.match((error.cause as Error).message, /"maria" is not a participant.*pg1, pg2/);
  });

  it('an isolation level an XA branch cannot run is a CapabilityError naming the setting; a supported one runs', async () => {
    const bad = await dm.transactions.distributed(['pg1', 'maria'], async () => undefined, { isolationLevel: 'serializable' }).catch((e: unknown) => e);
    assert.ok(bad instanceof DistributedTransactionError);
    assert.ok(bad.cause instanceof CapabilityError, String(bad.cause));
    assert.match((bad.cause as Error).message, /transaction_isolation/);
    const ok = await dm.transactions.distributed(['pg1', 'pg2'], async (tx) => {
      const [row] = await tx.on('pg1').query<{ level: string }>("SELECT current_setting('transaction_isolation') AS level");
      return row!.level;
    }, { isolationLevel: 'serializable' });
    assert.equal(ok.value, 'serializable');
    const mariaDefault = await dm.transactions.distributed(['pg1', 'maria'], async () => 'ok', { isolationLevel: 'repeatable read' });
    assert.equal(mariaDefault.outcome, 'committed');
    await nothingPrepared();
  });

  it('savepoints inside SQL branches: rolled back work is not committed, the rest is', async () => {
    await dm.transactions.distributed(['pg1', 'maria'], async (tx) => {
      for (const id of ['pg1', 'maria']) {
        const branch = tx.on(id);
        await branch.execute('INSERT INTO t (id, v) VALUES (?, ?)', [6, 'kept']);
        const sp = await branch.savepoint();
        await branch.execute('INSERT INTO t (id, v) VALUES (?, ?)', [7, 'undone']);
        await branch.rollbackTo(sp);
        await branch.transaction(async (inner) => inner.execute('INSERT INTO t (id, v) VALUES (?, ?)', [8, 'nested']));
      }
    });
    for (const id of ['pg1', 'maria']) {
      const rows = await dm.database(id).query<{ id: number }>('SELECT id FROM t WHERE id IN (6, 7, 8) ORDER BY id');
      assert.deepEqual(rows.map((r) => Number(r.id)), [6, 8], id);
    }
    await nothingPrepared();
  });
});
