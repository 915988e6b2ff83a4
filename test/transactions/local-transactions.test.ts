import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DataManager } from '../../src/data-manager.js';
import { CapabilityError, TimeoutError, UnknownAdapterError } from '../../src/errors/index.js';
import type { RedisTransactionContext } from '../../src/engines/redis/redis-transaction-context.js';
import { DistributedTransactionError } from '../../src/transactions/distributed-transaction-error.js';
import { silentLogger } from '../../src/util/logger.js';
import { createMariadbTestDatabase, type MariadbTestDatabase } from '../support/mariadb-server.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-server.js';
import { REDIS_URL } from '../support/transaction-fixture.js';

/**
 * dm.transactions.run on each engine, against the machine's servers (PostgreSQL 5432 has max_prepared_transactions
 * = 0, which is itself under test here): isolation levels, savepoints, timeouts, and the typed refusals.
 */
describe('local transactions per engine, and refusals', () => {
  let pg: TestDatabase;
  let maria: MariadbTestDatabase;
  let state: TestDatabase;
  let dm: DataManager;

  before(async () => {
    [pg, maria, state] = await Promise.all([createTestDatabase('dk_txl'), createMariadbTestDatabase('dk_txl'), createTestDatabase('dk_txlstate')]);
    dm = new DataManager({
      config: {
        databases: [{ ...pg.config, id: 'pg' }, { ...maria.config, id: 'maria' }, { url: REDIS_URL, id: 'cache' }, { url: REDIS_URL.replace(/\/\d*$/, '/1'), id: 'cache2' }],
        state: { url: state.url },
      },
      logger: silentLogger,
    });
    await dm.initialize();
    await dm.queryDatabase('pg', 'CREATE TABLE t (id int PRIMARY KEY)');
    await dm.queryDatabase('maria', 'CREATE TABLE t (id int PRIMARY KEY) ENGINE=InnoDB');
  });
  after(async () => {
    await dm?.close();
    await Promise.allSettled([pg?.drop(), maria?.drop(), state?.drop()]);
  });

  it('PostgreSQL runs each offered isolation level as asked and refuses read uncommitted (no silent downgrade)', async () => {
    for (const level of ['read committed', 'repeatable read', 'serializable'] as const) {
      const seen = await dm.transactions.run('pg', async (tx) => (await tx.query<{ l: string }>("SELECT current_setting('transaction_isolation') AS l"))[0]!.l, { isolationLevel: level });
      assert.equal(seen, level);
    }
    await assert.rejects(dm.transactions.run('pg', async () => undefined, { isolationLevel: 'read uncommitted' }), (e: unknown) => e instanceof CapabilityError && /read uncommitted/.test(e.message));
    const readOnly = await dm.transactions.run('pg', (tx) => tx.execute('INSERT INTO t VALUES (1)'), { readOnly: true }).catch((e: unknown) => e);
    assert.match(String(readOnly), /read-only transaction/);
  });

  it('MariaDB runs all four levels; read uncommitted sees another session\'s uncommitted row, read committed does not', async () => {
    const other = await maria.admin();
    try {
      await other.query(`USE \`${maria.name}\``);
      await other.query('START TRANSACTION');
      await other.query('INSERT INTO t VALUES (100)');
      const count = (level: 'read uncommitted' | 'read committed' | 'repeatable read' | 'serializable') =>
        dm.transactions.run('maria', async (tx) => Number((await tx.query<{ n: number }>('SELECT COUNT(*) AS n FROM t WHERE id = 100'))[0]!.n), { isolationLevel: level });
      assert.equal(await count('read uncommitted'), 1);
      assert.equal(await count('read committed'), 0);
      assert.equal(await count('repeatable read'), 0);
      await other.query('ROLLBACK');
      assert.equal(await count('serializable'), 0);
    } finally {
      await other.end();
    }
  });

  for (const id of ['pg', 'maria']) {
    it(`${id}: savepoints (create, roll back to, release) and nested calls as savepoints`, async () => {
      const base = id === 'pg' ? 10 : 20;
      await dm.transactions.run(id, async (tx) => {
        await tx.execute('INSERT INTO t VALUES (?)', [base + 1]);
        const sp = await tx.savepoint('before_two');
        await tx.execute('INSERT INTO t VALUES (?)', [base + 2]);
        await tx.rollbackTo(sp);
        const kept = await tx.savepoint();
        await tx.execute('INSERT INTO t VALUES (?)', [base + 3]);
        await tx.release(kept);
        await tx.transaction(async (inner) => {
          await inner.execute('INSERT INTO t VALUES (?)', [base + 4]);
        });
        await tx.transaction(async (inner) => {
          await inner.execute('INSERT INTO t VALUES (?)', [base + 5]);
          throw new Error('undo the nested part only');
        }).catch(() => undefined);
      });
      const rows = await dm.database(id).query<{ id: number }>('SELECT id FROM t WHERE id BETWEEN ? AND ? ORDER BY id', [base, base + 9]);
      assert.deepEqual(rows.map((r) => Number(r.id)), [base + 1, base + 3, base + 4]);
    });

    it(`${id}: a statement running past the timeout is stopped by the server, and a late callback is rolled back`, async () => {
      const sleep = id === 'pg' ? 'SELECT pg_sleep(5)' : 'SELECT SLEEP(5)';
      const stopped = await dm.transactions.run(id, (tx) => tx.query(sleep), { timeout: 300 }).catch((e: unknown) => e);
      assert.ok(stopped instanceof TimeoutError, `${id}: ${String(stopped)}`);
      const row = id === 'pg' ? 30 : 31;
      const late = await dm.transactions.run(id, async (tx) => {
        await tx.execute('INSERT INTO t VALUES (?)', [row]);
        await new Promise((resolve) => setTimeout(resolve, 400));
      }, { timeout: 200 }).catch((e: unknown) => e);
      assert.ok(late instanceof TimeoutError && late.kind === 'operation', String(late));
      assert.deepEqual(await dm.database(id).query('SELECT id FROM t WHERE id = ?', [row]), []);
    });
  }

  it('Redis: MULTI/EXEC through run(); a savepoint and an isolation level are CapabilityErrors', async () => {
    const key = `dk-txl-${Date.now()}`;
    await dm.transactions.run('cache', async (tx) => {
      (tx as RedisTransactionContext).queue(['SET', key, 'v']);
    });
    assert.equal(await dm.queryDatabase('cache', ['GET', key]), 'v');
    await dm.queryDatabase('cache', ['DEL', key]);
    const sp = await dm.transactions.run('cache', (tx) => tx.savepoint()).catch((e: unknown) => e);
    assert.ok(sp instanceof CapabilityError);
    assert.match(sp.message, /savepoints is not supported/);
    await assert.rejects(dm.transactions.run('cache', async () => undefined, { isolationLevel: 'serializable' }), CapabilityError);
  });

  it('two one-phase participants are refused, pointing to the saga alternative; an unknown id names the known ones', async () => {
    const two = await dm.transactions.distributed(['pg', 'cache', 'cache2'], async () => undefined).catch((e: unknown) => e);
    assert.ok(two instanceof CapabilityError, String(two));
    assert.match(two.message, /second one-phase participant/);
    assert.match(two.message, /saga/);
    const unknown = await dm.transactions.run('nope', async () => undefined).catch((e: unknown) => e);
    assert.ok(unknown instanceof UnknownAdapterError);
    assert.match(unknown.message, /known ids: pg, maria, cache, cache2/);
  });

  it('PostgreSQL with max_prepared_transactions = 0: the prepare is a CapabilityError naming the setting; validateSystem warns', async (t) => {
    const max = (await dm.database('pg').query<{ max: string }>("SELECT current_setting('max_prepared_transactions') AS max"))[0]!.max;
    if (max !== '0') {
      t.skip(`the server at ${pg.config.host}:${pg.config.port} has max_prepared_transactions = ${max}, not 0`);
      return;
    }
    // Asked to prepare (no participant holds the decision in a row), the PostgreSQL branch cannot.
    const error = await dm.transactions.distributed(['pg', 'maria'], async (tx) => {
      await tx.on('pg').execute('INSERT INTO t VALUES (40)');
      await tx.on('maria').execute('INSERT INTO t VALUES (40)');
    }, { decisionIn: false }).catch((e: unknown) => e);
    assert.ok(error instanceof DistributedTransactionError);
    assert.equal(error.outcome, 'aborted');
    assert.ok(error.cause instanceof CapabilityError);
    assert.match((error.cause as Error).message, /max_prepared_transactions/);
    assert.deepEqual(await dm.database('maria').query('SELECT id FROM t WHERE id = 40'), []);
    // By default it holds the decision instead, which needs no prepare: the transaction commits on both.
    const held = await dm.transactions.distributed(['pg', 'maria'], async (tx) => {
      await tx.on('pg').execute('INSERT INTO t VALUES (41)');
      await tx.on('maria').execute('INSERT INTO t VALUES (41)');
    });
    assert.equal(held.outcome, 'committed');
    for (const id of ['pg', 'maria']) assert.equal((await dm.database(id).query('SELECT id FROM t WHERE id = 41')).length, 1, id);
    const validation = await dm.validateSystem();
    assert.ok(validation.warnings.some((w) => /^transactions:prepare:pg: unable to take part in distributed transactions: max_prepared_transactions = 0/.test(w)), validation.warnings.join('\n'));
    assert.ok(validation.checks.some((c) => c.name === 'transactions:prepare:pg' && !c.ok));
    assert.ok(validation.checks.some((c) => c.name === 'transactions:prepare:maria' && c.ok));
  });
});
