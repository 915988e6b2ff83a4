import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import type { DataManager } from '../../src/data-manager.js';
import { CapabilityError, UsageError } from '../../src/errors/index.js';
import { DistributedTransactionError } from '../../src/transactions/distributed-transaction-error.js';
import type { RecoveryReport } from '../../src/transactions/transaction-types.js';
import { runTxWorker } from '../support/run-tx-worker.js';
import { TransactionFixture } from '../support/transaction-fixture.js';

/**
 * A PostgreSQL participant holds the commit decision (commit-markable resource): with no Redis or MongoDB
 * participant, pg1 is not prepared; after pg2 and maria prepared it commits its work with a row in
 * datakeep_tx_decisions, and that commit is the decision. Branch numbers: pg1 = 1 (the holder), pg2 = 2, maria = 3.
 * Every outcome is checked by reading the rows on every participant.
 */
const SQL = ['pg1', 'pg2', 'maria'];

describe('a PostgreSQL participant holds the decision in a row committed with its own branch', () => {
  let fx: TransactionFixture;
  let dm: DataManager;

  before(async () => {
    fx = await TransactionFixture.start();
    dm = await fx.manager({ recoveryGrace: 0 });
    await fx.createTables(dm);
    // A commit that the test can hold in flight (and make fail): a deferred trigger runs at COMMIT, after the
    // decision row's INSERT, and waits for an advisory lock the test holds.
    await dm.transactions.run('pg1', (tx) => tx.script(`
      CREATE TABLE slow (id int PRIMARY KEY, v text);
      CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_advisory_xact_lock_shared(4242);
        IF NEW.v = 'fail' THEN RAISE EXCEPTION 'refused at commit'; END IF;
        RETURN NULL;
      END $$;
      CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON slow DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit();`));
  });
  after(async () => {
    await fx?.close();
  });

  const seen = async (row: number, table = 't', ids = SQL) => Object.fromEntries(await Promise.all(ids.map(async (id) => [id, (await dm.database(id).query(`SELECT 1 FROM ${table} WHERE id = ?`, [row])).length] as const)));
  const all = (n: number, ids = SQL) => Object.fromEntries(ids.map((id) => [id, n]));
  const decisionRow = async (globalId: string) => (await fx.cluster.query<{ decision: string }>('SELECT decision FROM datakeep_tx_decisions WHERE global_id = $1', [globalId], 'a'))[0]?.decision;
  const record = async (globalId: string) => (await (await dm.state()).adapter.query('SELECT state, decision, outcome FROM datakeep.tx_log WHERE global_id = ?', [globalId]))[0];
  const nothingLeft = async (globalId: string) => {
    assert.deepEqual(await fx.pgPrepared(), [], 'pg_prepared_xacts ends empty');
    assert.deepEqual(await fx.xaPrepared(), [], 'XA RECOVER ends empty');
    await waitUntil(async () => (await decisionRow(globalId)) === undefined, `the decision row of ${globalId} is removed once every branch finished`);
  };

  it('commits with pg1 never prepared: the others carry pg1 in their ids, pg1 commits with its decision row, the coordinator log is not written', async () => {
    let during: { pg: string[]; xa: string[]; row: string | undefined; log: unknown } | undefined;
    const result = await dm.transactions.distributed(SQL, async (tx) => {
      for (const id of SQL) await tx.on(id).execute('INSERT INTO t (id, v) VALUES (?, ?)', [1, 'one']);
    }, {
      onStep: async (step, globalId) => {
        if (step === 'last-resource') during = { pg: await fx.pgPrepared(), xa: await fx.xaPrepared(), row: await decisionRow(globalId), log: await record(globalId) };
      },
    });
    assert.equal(result.outcome, 'committed');
    assert.ok(during, 'the coordinator passed the step before the holder commits');
    assert.deepEqual(during.pg, [`dk:${fx.nodeId}:${result.globalId}:2:pg1`], 'only pg2 is prepared, and its gid names the holder');
    assert.deepEqual(during.xa, [`${fx.nodeId}:${result.globalId}3:pg1`], 'the MariaDB xid (gtrid then bqual) names the holder too');
    assert.equal(during.row, undefined, 'no decision before the holder commits');
    assert.equal(during.log, undefined, 'no record in the coordinator log');
    assert.deepEqual(await seen(1), all(1));
    await nothingLeft(result.globalId);
    assert.equal(await record(result.globalId), undefined);
  });

  it('a failure at the holder\'s COMMIT (a deferred trigger) rolls every participant back', async () => {
    const error = await dm.transactions.distributed(['pg1', 'pg2', 'maria'], async (tx) => {
      await tx.on('pg1').execute('INSERT INTO slow (id, v) VALUES (?, ?)', [2, 'fail']);
      for (const id of ['pg2', 'maria']) await tx.on(id).execute('INSERT INTO t (id, v) VALUES (?, ?)', [2, 'two']);
    }).then(() => assert.fail('expected an abort'), (e: unknown) => e);
    assert.ok(error instanceof DistributedTransactionError, String(error));
    assert.equal(error.outcome, 'aborted');
    assert.match(String((error.cause as Error).message), /refused at commit/);
    assert.deepEqual({ ...(await seen(2, 'slow', ['pg1'])), ...(await seen(2, 't', ['pg2', 'maria'])) }, all(0));
    await nothingLeft(error.globalId);
  });

  it('with Redis committed last, every PostgreSQL branch is prepared; decisionIn picks the holder or turns it off', async () => {
    let prepared: string[] = [];
    const withCache = await dm.transactions.distributed(['pg1', 'pg2', 'cache'], async (tx) => {
      for (const id of ['pg1', 'pg2']) await tx.on(id).execute('INSERT INTO t (id, v) VALUES (?, ?)', [3, 'three']);
    }, { onStep: async (step) => void (step === 'last-resource' && (prepared = await fx.pgPrepared())) });
    assert.deepEqual(prepared, [1, 2].map((b) => `dk:${fx.nodeId}:${withCache.globalId}:${b}`));

    const chosen = await dm.transactions.distributed(['pg1', 'pg2'], async (tx) => {
      for (const id of ['pg1', 'pg2']) await tx.on(id).execute('INSERT INTO t (id, v) VALUES (?, ?)', [4, 'four']);
    }, { decisionIn: 'pg2', onStep: async (step) => void (step === 'last-resource' && (prepared = await fx.pgPrepared())) });
    assert.deepEqual(prepared, [`dk:${fx.nodeId}:${chosen.globalId}:1:pg2`]);
    assert.deepEqual(await seen(4, 't', ['pg1', 'pg2']), all(1, ['pg1', 'pg2']));

    const off = await dm.transactions.distributed(['pg1', 'pg2'], async () => undefined, { decisionIn: false, onStep: async (step) => void (step === 'prepared:2' && (prepared = await fx.pgPrepared())) });
    assert.ok(prepared.includes(`dk:${fx.nodeId}:${off.globalId}:1`), `pg1 prepared with decisionIn: false: ${prepared.join(', ')}`);

    const mariaHolds = await dm.transactions.distributed(['pg1', 'maria'], async () => undefined, { decisionIn: 'maria' }).catch((e: unknown) => e);
    assert.ok(mariaHolds instanceof CapabilityError, String(mariaHolds));
    const besideRedis = await dm.transactions.distributed(['pg1', 'cache'], async () => undefined, { decisionIn: 'pg1' }).catch((e: unknown) => e);
    assert.ok(besideRedis instanceof UsageError, String(besideRedis));
    assert.match(besideRedis.message, /cache.*committed last/);
    const stranger = await dm.transactions.distributed(['pg1', 'pg2'], async () => undefined, { decisionIn: 'pg9' }).catch((e: unknown) => e);
    assert.ok(stranger instanceof UsageError && /not a participant/.test(stranger.message), String(stranger));
  });

  describe('coordinator killed with SIGKILL (a child process) at each step: recovery converges by the decision row', () => {
    // The coordinator log holds nothing for these transactions: recovery finds them by their prepared branches, whose
    // ids name the database holding the decision.
    const CASES: { step: string; expect: 'committed' | 'aborted'; phase2?: 'background' }[] = [
      { step: 'prepared:2', expect: 'aborted' },
      { step: 'prepared:3', expect: 'aborted' },
      // Every other branch prepared, the holder not committed yet.
      { step: 'last-resource', expect: 'aborted' },
      // The holder committed (the decision), phase 2 not started.
      { step: 'last-resource-committed', expect: 'committed' },
      { step: 'decided', expect: 'committed' },
      { step: 'committed:2', expect: 'committed' },
      { step: 'decided', expect: 'committed', phase2: 'background' },
    ];
    for (const [index, { step, expect, phase2 }] of CASES.entries()) {
      const label = `${step}${phase2 ? ' (phase 2 in the background, caller answered)' : ''}`;
      it(`killed after "${label}": recovery ${expect === 'committed' ? 'commits' : 'rolls back'} every participant`, async () => {
        const row = 100 + index;
        const run = await runTxWorker({ settings: fx.settings(), step, row, prefix: fx.prefix, participants: SQL, ...(phase2 ? { phase2 } : {}) });
        assert.equal(run.signal, 'SIGKILL', `the worker should have died at ${step}; it ended with code ${run.code}: ${run.stdout}\n${run.stderr}`);
        if (phase2) assert.match(run.stdout, /^outcome committed$/m, 'the caller had its answer before the coordinator died');
        const globalId = run.globalId!;
        // Phase 2 runs in parallel: killed after pg2 committed, maria may have committed too, leaving nothing prepared.
        const leftPrepared = [...(await fx.pgPrepared()), ...(await fx.xaPrepared())].some((id) => id.includes(globalId));
        const reports = await fx.recoverUntilSettled(dm);
        const acted = reports.flatMap((r) => [...r.committed, ...r.rolledBack]);
        assert.ok(acted.includes(globalId) || !leftPrepared, `recovery should have finished ${globalId}; reports: ${JSON.stringify(reports)}`);
        assert.deepEqual(await seen(row), all(expect === 'committed' ? 1 : 0));
        // A row whose removal died with the coordinator is swept once old (10 minutes): age it, and sweep.
        await fx.cluster.query("UPDATE datakeep_tx_decisions SET decided_at = now() - interval '1 hour' WHERE global_id = $1", [globalId], 'a');
        await dm.transactions.recover();
        await nothingLeft(globalId);
        assert.equal(await record(globalId), undefined, 'the coordinator log was never written');
      });
    }
  });

  it('tx resolve follows the decision row: --commit is refused without a commit row, --rollback decides abort; with the row committed, --commit finishes it', async () => {
    const operator = await fx.manager({ recoveryGrace: 3_600_000 });
    const resolveWhenDetached = async (id: string, action: 'commit' | 'rollback') => {
      for (let attempt = 0; ; attempt += 1) {
        try {
          return await operator.transactions.resolve(id, action);
        } catch (error) {
          // Only a MariaDB branch still attached to the dead worker's session may delay it.
          assert.match((error as Error).message, /still belong to a live session/);
          assert.ok(attempt < 100);
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    };
    const undecided = await runTxWorker({ settings: fx.settings(), step: 'last-resource', row: 300, prefix: fx.prefix, participants: SQL });
    assert.equal(undecided.signal, 'SIGKILL', undecided.stderr);
    const view = (await operator.transactions.list()).find((v) => v.globalId === undecided.globalId);
    assert.equal(view?.state, 'decision-row');
    const refused = await operator.transactions.resolve(undecided.globalId!, 'commit').catch((e: unknown) => e);
    assert.ok(refused instanceof UsageError, String(refused));
    assert.match(refused.message, /pg1 holds no commit decision.*is absent/);
    assert.equal((await resolveWhenDetached(undecided.globalId!, 'rollback')).outcome, 'aborted');
    assert.deepEqual(await seen(300), all(0));
    await nothingLeft(undecided.globalId!);

    const decided = await runTxWorker({ settings: fx.settings(), step: 'last-resource-committed', row: 301, prefix: fx.prefix, participants: SQL });
    assert.equal(decided.signal, 'SIGKILL', decided.stderr);
    assert.equal((await resolveWhenDetached(decided.globalId!, 'commit')).outcome, 'committed');
    assert.deepEqual(await seen(301), all(1));
    await nothingLeft(decided.globalId!);
  });

  describe('recovery racing the holder\'s commit', () => {
    let gate: pg.Client;
    let other: DataManager;
    before(async () => {
      other = await fx.manager({ recoveryGrace: 0 });
    });

    /** Runs one transaction whose holder commit waits at the gate; returns it with the recovery pass racing it. */
    const race = async (row: number, v: 'ok' | 'fail') => {
      gate = await fx.cluster.connect('a');
      await gate.query('SELECT pg_advisory_lock(4242)');
      try {
        const running = dm.transactions.distributed(['pg1', 'maria'], async (tx) => {
          await tx.on('pg1').execute('INSERT INTO slow (id, v) VALUES (?, ?)', [row, v]);
          await tx.on('maria').execute('INSERT INTO t (id, v) VALUES (?, ?)', [row, v]);
        }).then((r) => r, (e: unknown) => e);
        await waitUntil(async () => (await lockWaits('advisory')) === 1, 'the holder\'s COMMIT waits at the gate with its decision row inserted');
        // Another process's recovery (same node id; the transaction is not live there): the first pass only notes it.
        const first = await other.transactions.recover();
        assert.ok(first.deferred.length > 0, JSON.stringify(first));
        const second = other.transactions.recover();
        await waitUntil(async () => (await lockWaits('transactionid')) === 1, 'recovery\'s abort insert waits for the in-flight decision row');
        await gate.query('SELECT pg_advisory_unlock(4242)');
        return { outcome: await running, report: await second };
      } finally {
        await gate.end();
      }
    };
    const lockWaits = async (event: string) => Number((await fx.cluster.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = 'a' AND wait_event_type = 'Lock' AND wait_event = $1", [event]))[0]!.n);

    it('the commit in flight wins: recovery learns "commit" and nothing rolls back', async () => {
      const { outcome, report } = await race(200, 'ok');
      assert.ok(!(outcome instanceof Error), String(outcome));
      assert.equal((outcome as { outcome: string }).outcome, 'committed');
      assert.ok(!report.rolledBack.some(Boolean), `recovery rolled nothing back: ${JSON.stringify(report)}`);
      await fx.recoverUntilSettled(other);
      assert.deepEqual({ ...(await seen(200, 'slow', ['pg1'])), ...(await seen(200, 't', ['maria'])) }, { pg1: 1, maria: 1 });
      await nothingLeft((outcome as { globalId: string }).globalId);
    });

    it('the commit in flight fails: recovery\'s abort row holds, every participant rolls back', async () => {
      const { outcome, report } = await race(201, 'fail');
      assert.ok(outcome instanceof DistributedTransactionError, String(outcome));
      assert.equal(outcome.outcome, 'aborted');
      assert.ok(!report.committed.includes(outcome.globalId), JSON.stringify(report));
      await fx.recoverUntilSettled(other);
      assert.deepEqual({ ...(await seen(201, 'slow', ['pg1'])), ...(await seen(201, 't', ['maria'])) }, { pg1: 0, maria: 0 });
      await nothingLeft(outcome.globalId);
    });

    it('recovery decides first (the coordinator stalled past the grace period): the late commit fails on the key and rolls back', async () => {
      let resume!: () => void;
      const stalled = new Promise<void>((resolve) => (resume = resolve));
      let reached!: () => void;
      const atStep = new Promise<void>((resolve) => (reached = resolve));
      const running = dm.transactions.distributed(['pg1', 'maria'], async (tx) => {
        await tx.on('pg1').execute('INSERT INTO t (id, v) VALUES (?, ?)', [202, 'late']);
        await tx.on('maria').execute('INSERT INTO t (id, v) VALUES (?, ?)', [202, 'late']);
      }, {
        onStep: async (step) => {
          if (step !== 'last-resource') return;
          reached();
          await stalled;
        },
      }).then((r) => r, (e: unknown) => e);
      await atStep;
      const reports: RecoveryReport[] = [await other.transactions.recover(), await other.transactions.recover()];
      resume();
      const outcome = await running;
      assert.ok(outcome instanceof DistributedTransactionError, String(outcome));
      assert.equal(outcome.outcome, 'aborted');
      assert.equal((outcome.cause as { sqlState?: string }).sqlState, '23505', 'the holder\'s insert met recovery\'s abort row');
      assert.ok(reports.length === 2);
      await fx.recoverUntilSettled(other);
      assert.deepEqual(await seen(202, 't', ['pg1', 'maria']), { pg1: 0, maria: 0 });
      await nothingLeft(outcome.globalId);
    });
  });
});

/** Polls `check` until it holds (bounded: a named failure after 400 tries, never a timing assertion). */
async function waitUntil(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 400; i += 1) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`waitUntil: never happened: ${what}`);
}
