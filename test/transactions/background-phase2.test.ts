import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DataManager } from '../../src/data-manager.js';
import { UsageError } from '../../src/errors/index.js';
import { CoordinatorLog } from '../../src/transactions/coordinator-log.js';
import { runTxWorker } from '../support/run-tx-worker.js';
import { TransactionFixture } from '../support/transaction-fixture.js';

/**
 * `phase2: 'background'` answers the caller once the commit decision is durable and commits the branches after. The
 * windows that opens: the coordinator dies after answering and before (or during) phase 2, and readers run between
 * the answer and phase 2. Branch numbers: pg1 = 1, pg2 = 2, maria = 3, cache (Redis, the last resource) = 4.
 */
describe("phase2: 'background': the caller is answered before the branches commit", () => {
  let fx: TransactionFixture;
  let dm: DataManager;

  before(async () => {
    fx = await TransactionFixture.start();
    dm = await fx.manager({ recoveryGrace: 0 });
    await fx.createTables(dm);
  });
  after(async () => {
    await fx?.close();
  });

  const seen = async (row: number) => ({
    pg1: (await dm.database('pg1').query('SELECT 1 FROM t WHERE id = ?', [row])).length,
    pg2: (await dm.database('pg2').query('SELECT 1 FROM t WHERE id = ?', [row])).length,
    maria: (await dm.database('maria').query('SELECT 1 FROM t WHERE id = ?', [row])).length,
    cache: await fx.redis.exists(`${fx.prefix}t:${row}`),
  });

  for (const [index, step] of ['decided', 'committed:1'].entries()) {
    it(`coordinator killed after answering "committed", at "${step}": recovery commits every branch`, async () => {
      const row = 100 + index;
      const run = await runTxWorker({ settings: fx.settings(), step, row, prefix: fx.prefix, phase2: 'background' });
      assert.equal(run.signal, 'SIGKILL', `the worker should have died at ${step}; code ${run.code}: ${run.stdout}\n${run.stderr}`);
      assert.match(run.stdout, /^outcome committed$/m, 'the caller had its answer before the coordinator died');
      const reports = await fx.recoverUntilSettled(dm);
      assert.ok(reports.some((r) => r.committed.includes(run.globalId!)), `recovery should have committed ${run.globalId}; reports: ${JSON.stringify(reports)}`);
      assert.deepEqual(await seen(row), { pg1: 1, pg2: 1, maria: 1, cache: 1 });
      assert.deepEqual(await fx.pgPrepared(), []);
      assert.deepEqual(await fx.xaPrepared(), []);
      const [record] = await (await dm.state()).adapter.query('SELECT state, decision, outcome FROM datakeep.tx_log WHERE global_id = ?', [run.globalId]);
      assert.deepEqual(record, { state: 'finished', decision: 'commit', outcome: 'committed' });
    });
  }

  it('between the answer and phase 2: locking readers wait and see the commit, plain reads may not; settled means visible everywhere', async () => {
    for (const id of ['pg1', 'maria']) await dm.queryDatabase(id, 'INSERT INTO t (id, v) VALUES (?, ?)', [200, 'before']);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const result = await dm.transactions.distributed(['pg1', 'maria'], async (tx) => {
      for (const id of ['pg1', 'maria']) await tx.on(id).execute('UPDATE t SET v = ? WHERE id = ?', ['after', 200]);
    }, {
      phase2: 'background',
      // Both branches prepared (neither holds the decision in a row), so that both wait for phase 2.
      decisionIn: false,
      // Phase 2 starts only when the test lets it: the window is open for as long as the test needs.
      onStep: async (step) => {
        if (step === 'decided') await held;
      },
    });
    assert.equal(result.outcome, 'committed');
    // The decision is durable but no branch committed yet: both are still prepared, and recovery leaves them alone
    // (their coordinator is alive in this process).
    assert.equal((await fx.pgPrepared()).length, 1);
    const report = await dm.transactions.recover();
    assert.ok(![...report.committed, ...report.rolledBack].includes(result.globalId), 'recovery leaves a live transaction alone');
    // A plain read takes a snapshot in which the prepared branch is not committed yet (documented).
    assert.deepEqual(await dm.database('pg1').query('SELECT v FROM t WHERE id = 200'), [{ v: 'before' }]);
    assert.deepEqual(await dm.database('maria').query('SELECT v FROM t WHERE id = 200'), [{ v: 'before' }]);
    // A locking read waits for the prepared branch's row lock, and then reads the committed row.
    const pgLocked = dm.database('pg1').query('SELECT v FROM t WHERE id = 200 FOR UPDATE');
    const mariaLocked = dm.database('maria').query('SELECT v FROM t WHERE id = 200 FOR UPDATE');
    await waitUntil(async () => (await fx.cluster.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%FOR UPDATE%'", [], 'a'))[0]!.n === '1');
    await waitUntil(async () => Number((await fx.mariaQuery<{ n: bigint }[]>("SELECT COUNT(*) AS n FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT'"))[0]!.n) >= 1);
    release();
    assert.deepEqual(await pgLocked, [{ v: 'after' }]);
    assert.deepEqual(await mariaLocked, [{ v: 'after' }]);
    assert.equal(await result.settled, 'committed');
    assert.deepEqual(await dm.database('pg1').query('SELECT v FROM t WHERE id = 200'), [{ v: 'after' }]);
    assert.deepEqual(await dm.database('maria').query('SELECT v FROM t WHERE id = 200'), [{ v: 'after' }]);
    assert.deepEqual(await fx.pgPrepared(), []);
    assert.deepEqual(await fx.xaPrepared(), []);
  });

  it("with phase2: 'wait' (the default) every plain read after the answer sees the commit; a bad phase2 is a UsageError", async () => {
    const result = await dm.transactions.distributed(['pg1', 'pg2', 'maria'], async (tx) => {
      for (const id of ['pg1', 'pg2', 'maria']) await tx.on(id).execute('INSERT INTO t (id, v) VALUES (?, ?)', [300, 'wait']);
    });
    assert.deepEqual(await seen(300), { pg1: 1, pg2: 1, maria: 1, cache: 0 });
    assert.equal(await result.settled, 'committed');
    const bad = await dm.transactions.distributed(['pg1'], async () => undefined, { phase2: 'later' as 'wait' }).catch((e: unknown) => e);
    assert.ok(bad instanceof UsageError);
    assert.match(bad.message, /options\.phase2.*"wait".*"background"/);
  });

  it('close() waits for phases 2 still running in the background: nothing is left prepared', async () => {
    const closing = await fx.manager({ recoveryGrace: 3_600_000 });
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => closing.transactions.distributed(['pg1', 'pg2', 'maria'], async (tx) => {
      for (const id of ['pg1', 'pg2', 'maria']) await tx.on(id).execute('INSERT INTO t (id, v) VALUES (?, ?)', [400 + i, 'close']);
    }, { phase2: 'background' })));
    await closing.close();
    assert.deepEqual(await fx.pgPrepared(), []);
    assert.deepEqual(await fx.xaPrepared(), []);
    for (const [i, r] of results.entries()) {
      assert.equal(await r.settled, 'committed');
      assert.deepEqual(await seen(400 + i), { pg1: 1, pg2: 1, maria: 1, cache: 0 });
    }
  });
});

describe('coordinator log group commit', () => {
  let fx: TransactionFixture;
  let dm: DataManager;

  before(async () => {
    fx = await TransactionFixture.start();
    dm = await fx.manager();
  });
  after(async () => {
    await fx?.close();
  });

  it('decisions submitted while a write is in flight share the next write, and each stays a compare-and-set', async () => {
    const state = (await dm.state()).adapter;
    const log = new CoordinatorLog(async () => state);
    const ids = Array.from({ length: 20 }, (_, i) => `gc${Date.now().toString(36)}${String(i).padStart(4, '0')}`);
    await Promise.all(ids.map((globalId) => log.begin({ globalId, nodeId: fx.nodeId, participants: [], timeoutMs: 1000 })));
    const before = state.metrics().queries.total;
    // Two parties decide every transaction at once (a coordinator committing, a recovery pass aborting): the first
    // write carries the first decision alone; the others wait for it and go together, the rivals in later writes.
    const decisions = await Promise.all(ids.flatMap((id) => [log.decide(id, 'commit', ['active']), log.decide(id, 'abort', ['active'])]));
    const writes = state.metrics().queries.total - before;
    assert.ok(writes <= 4, `40 decisions took ${writes} statements; expected at most 4 (one alone, then one batch per rival)`);
    const rows = await state.query<{ global_id: string; decision: string }>('SELECT global_id, decision FROM datakeep.tx_log WHERE global_id = ANY(?::text[])', [ids]);
    const recorded = new Map(rows.map((r) => [r.global_id, r.decision]));
    ids.forEach((id, i) => {
      const [commit, abort] = [decisions[2 * i], decisions[2 * i + 1]];
      assert.equal(Number(commit) + Number(abort), 1, `exactly one decision of ${id} wins`);
      assert.equal(recorded.get(id), commit ? 'commit' : 'abort', `the log holds the winner's decision for ${id}`);
    });
  });
});

/** Polls `check` until it holds (bounded: a named failure after 200 tries, never a timing assertion). */
async function waitUntil(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i += 1) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('waitUntil: the condition never held (the locking reader never waited for the prepared branch)');
}
