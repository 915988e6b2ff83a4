import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { resolveDatabaseConfig } from '../../src/config/resolve-database-config.js';
import { MariadbAdapter } from '../../src/engines/mariadb/mariadb-adapter.js';
import { TimeoutError } from '../../src/errors/index.js';
import { silentLogger } from '../../src/util/logger.js';
import { createMariadbTestDatabase, type MariadbTestDatabase } from '../support/mariadb-server.js';

/** Resolves when `parties` callers have arrived; each caller awaits the returned promise. */
function barrier(parties: number): () => Promise<void> {
  let arrived = 0;
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return () => {
    arrived += 1;
    if (arrived === parties) open();
    return opened;
  };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

// Another session updates row 1 and must not wait more than a second for a lock: under SERIALIZABLE a plain SELECT
// holds a shared lock, under the other levels it holds none.
const CONTENDED_UPDATE = 'SET STATEMENT innodb_lock_wait_timeout = 1 FOR UPDATE iso SET v = v + 100 WHERE id = 1';

describe('mariadb transactions (127.0.0.1:3306)', () => {
  let db: MariadbTestDatabase;
  let adapter: MariadbAdapter;
  let other: MariadbAdapter;

  before(async () => {
    db = await createMariadbTestDatabase();
    adapter = new MariadbAdapter(resolveDatabaseConfig({ ...db.config, poolSize: 1, id: 'main' }, 'test'), { logger: silentLogger });
    other = new MariadbAdapter(resolveDatabaseConfig({ ...db.config, poolSize: 4, id: 'other' }, 'test'), { logger: silentLogger });
    await Promise.all([adapter.connect(), other.connect()]);
    await adapter.execute('CREATE TABLE iso (id int PRIMARY KEY, v int NOT NULL) ENGINE=InnoDB');
    await adapter.execute('CREATE TABLE acct (id int PRIMARY KEY, balance int NOT NULL) ENGINE=InnoDB');
    await adapter.execute('CREATE TABLE sp (id int PRIMARY KEY) ENGINE=InnoDB');
  });
  after(async () => {
    await Promise.allSettled([adapter?.close(), other?.close()]);
    await db?.drop();
  });

  const resetIso = () => adapter.execute('REPLACE INTO iso (id, v) VALUES (1, 0)');

  it('read uncommitted sees another transaction\'s uncommitted write; read committed does not', async () => {
    await resetIso();
    const written = deferred();
    const hold = deferred();
    const writer = other.transaction(async (tx) => {
      await tx.execute('UPDATE iso SET v = 99 WHERE id = 1');
      written.resolve();
      await hold.promise;
      throw new Error('writer rolls back');
    });
    await written.promise;
    try {
      const dirty = await adapter.transaction((tx) => tx.query<{ v: number }>('SELECT v FROM iso WHERE id = 1'), { isolationLevel: 'read uncommitted' });
      const clean = await adapter.transaction((tx) => tx.query<{ v: number }>('SELECT v FROM iso WHERE id = 1'), { isolationLevel: 'read committed' });
      assert.equal(dirty[0]!.v, 99);
      assert.equal(clean[0]!.v, 0);
    } finally {
      hold.resolve();
      await assert.rejects(writer, /writer rolls back/);
    }
  });

  it('read committed sees a concurrent commit inside the transaction; repeatable read keeps its snapshot', async () => {
    const readTwice = async (level: 'read committed' | 'repeatable read') => {
      await resetIso();
      return adapter.transaction(async (tx) => {
        const first = (await tx.query<{ v: number }>('SELECT v FROM iso WHERE id = 1'))[0]!.v;
        await other.execute('UPDATE iso SET v = v + 1 WHERE id = 1');
        const second = (await tx.query<{ v: number }>('SELECT v FROM iso WHERE id = 1'))[0]!.v;
        return [first, second];
      }, { isolationLevel: level });
    };
    assert.deepEqual(await readTwice('read committed'), [0, 1]);
    assert.deepEqual(await readTwice('repeatable read'), [0, 0]);
  });

  it('serializable reads take shared locks (a concurrent writer times out with a lock TimeoutError); repeatable read reads do not', async () => {
    await resetIso();
    await adapter.transaction(async (tx) => {
      await tx.query('SELECT v FROM iso WHERE id = 1');
      const error = await other.execute(CONTENDED_UPDATE).then(() => undefined, (e: unknown) => e);
      assert.ok(error instanceof TimeoutError, `expected a TimeoutError, got ${String(error)}`);
      assert.equal(error.kind, 'lock');
    }, { isolationLevel: 'serializable' });
    await adapter.transaction(async (tx) => {
      await tx.query('SELECT v FROM iso WHERE id = 1');
      assert.equal(await other.execute(CONTENDED_UPDATE), 1);
    }, { isolationLevel: 'repeatable read' });
  });

  it('an isolation level applies to one transaction only: the pooled session returns to the server default', async () => {
    await resetIso();
    // poolSize 1: both transactions run on the same session.
    await adapter.transaction((tx) => tx.query('SELECT 1 AS one'), { isolationLevel: 'serializable' });
    await adapter.transaction(async (tx) => {
      await tx.query('SELECT v FROM iso WHERE id = 1');
      // Under a leftover SERIALIZABLE this would wait for the shared lock and time out.
      assert.equal(await other.execute(CONTENDED_UPDATE), 1);
    });
  });

  it('savepoints: rolling back to an earlier one undoes everything after it, and the transaction goes on', async () => {
    await adapter.transaction(async (tx) => {
      await tx.execute('INSERT INTO sp (id) VALUES (?)', [1]);
      const a = await tx.savepoint('sp_a');
      await tx.execute('INSERT INTO sp (id) VALUES (?)', [2]);
      await tx.savepoint('sp_b');
      await tx.execute('INSERT INTO sp (id) VALUES (?)', [3]);
      await tx.rollbackTo(a);
      await tx.execute('INSERT INTO sp (id) VALUES (?)', [4]);
      await tx.transaction(async (inner) => {
        await inner.execute('INSERT INTO sp (id) VALUES (?)', [5]);
      });
    });
    const ids = (await adapter.query<{ id: number }>('SELECT id FROM sp ORDER BY id')).map((r) => r.id);
    assert.deepEqual(ids, [1, 4, 5]);
  });

  it('a deadlock between two transactions is retried, and both transfers end up applied once', async () => {
    await adapter.execute('REPLACE INTO acct (id, balance) VALUES (1, 100), (2, 100)');
    const bothHoldFirstLock = barrier(2);
    const attempts = { forward: 0, backward: 0 };
    const transfer = (name: 'forward' | 'backward', from: number, to: number) =>
      other.transaction(async (tx) => {
        attempts[name] += 1;
        await tx.execute('UPDATE acct SET balance = balance - 10 WHERE id = ?', [from]);
        // Only the first attempts meet here, each holding the row the other needs next: a certain deadlock.
        if (attempts[name] === 1) await bothHoldFirstLock();
        await tx.execute('UPDATE acct SET balance = balance + 10 WHERE id = ?', [to]);
      });
    const retriedBefore = other.metrics().transactions.retried;
    await Promise.all([transfer('forward', 1, 2), transfer('backward', 2, 1)]);
    // InnoDB rolled back exactly one of the two (the victim), which ran a second time.
    assert.equal(attempts.forward + attempts.backward, 3);
    assert.equal(other.metrics().transactions.retried, retriedBefore + 1);
    const balances = (await adapter.query<{ id: number; balance: number }>('SELECT id, balance FROM acct ORDER BY id')).map((r) => r.balance);
    assert.deepEqual(balances, [100, 100]);
  });

  it('declares DDL non-transactional, because CREATE TABLE commits the open transaction', async () => {
    assert.equal(adapter.capabilities.transactionalDdl, false);
    await assert.rejects(
      adapter.transaction(async (tx) => {
        await tx.execute('INSERT INTO sp (id) VALUES (?)', [100]);
        await tx.execute('CREATE TABLE ddl_probe (a int)');
        throw new Error('roll back after DDL');
      }),
      /roll back after DDL/,
    );
    // The insert before the DDL was committed by it, and the table exists: nothing was rolled back.
    assert.equal((await adapter.query('SELECT id FROM sp WHERE id = ?', [100])).length, 1);
    assert.equal((await adapter.query("SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'ddl_probe'")).length, 1);
  });
});
