import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DataManager } from '../../src/data-manager.js';
import { TransactionFixture } from '../support/transaction-fixture.js';

const ACCOUNTS = 8;
const START = 1000;

describe('32 concurrent distributed transfers between PostgreSQL and MariaDB accounts', () => {
  let fx: TransactionFixture;
  let dm: DataManager;

  before(async () => {
    fx = await TransactionFixture.start();
    // A pool smaller than the number of transfers in flight: sessions are queued for, never deadlocked over.
    dm = await fx.manager({}, 8);
    await dm.queryDatabase('pg1', 'CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL CHECK (balance >= 0))');
    await dm.queryDatabase('maria', 'CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL CHECK (balance >= 0)) ENGINE=InnoDB');
    for (let id = 1; id <= ACCOUNTS; id += 1) {
      await dm.queryDatabase('pg1', 'INSERT INTO accounts VALUES (?, ?)', [id, START]);
      await dm.queryDatabase('maria', 'INSERT INTO accounts VALUES (?, ?)', [id, START]);
    }
  });
  after(async () => {
    await fx?.close();
  });

  const total = async () => {
    const [pg] = await dm.database('pg1').query<{ s: string }>('SELECT sum(balance)::int AS s FROM accounts');
    const [maria] = await dm.database('maria').query<{ s: string }>('SELECT CAST(SUM(balance) AS SIGNED) AS s FROM accounts');
    return Number(pg!.s) + Number(maria!.s);
  };

  it('keeps the total unchanged and leaves no prepared transaction behind', async () => {
    assert.equal(await total(), 2 * ACCOUNTS * START);
    const transfers = Array.from({ length: 32 }, (_, i) => ({
      pgAccount: (i % ACCOUNTS) + 1,
      mariaAccount: ((i * 3) % ACCOUNTS) + 1,
      // Positive: PostgreSQL pays MariaDB; negative: the other way round.
      amount: (i % 2 === 0 ? 1 : -1) * (10 + i),
    }));
    const results = await Promise.allSettled(transfers.map((t) => dm.transactions.distributed(['pg1', 'maria'], async (tx) => {
      // Both statements take row locks in the same order in every transfer (PostgreSQL first), so no cycle can form
      // across the two servers, which neither server could detect.
      await tx.on('pg1').execute('UPDATE accounts SET balance = balance - ? WHERE id = ?', [t.amount, t.pgAccount]);
      await tx.on('maria').execute('UPDATE accounts SET balance = balance + ? WHERE id = ?', [t.amount, t.mariaAccount]);
    })));
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => String(r.reason));
    assert.deepEqual(failures, []);
    assert.ok(results.every((r) => r.status === 'fulfilled' && r.value.outcome === 'committed'));
    assert.equal(await total(), 2 * ACCOUNTS * START);
    const [moved] = await dm.database('pg1').query<{ s: number }>('SELECT sum(abs(balance - ?))::int AS s FROM accounts', [START]);
    assert.ok(Number(moved!.s) > 0, 'balances moved');
    assert.deepEqual(await fx.pgPrepared(), []);
    assert.deepEqual(await fx.xaPrepared(), []);
    const metrics = await dm.transactions.metrics();
    assert.equal(metrics.committed, 32);
    assert.equal(metrics.inFlight, 0);
  });
});
