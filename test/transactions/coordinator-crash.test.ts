import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DataManager } from '../../src/data-manager.js';
import { runTxWorker } from '../support/run-tx-worker.js';
import { TransactionFixture } from '../support/transaction-fixture.js';

/**
 * The coordinator is killed with SIGKILL at every step of the protocol; a fresh coordinator with the same node id then
 * runs recovery, which must bring every participant to one outcome (all four rows or none) and leave nothing prepared.
 * Branch numbers: pg1 = 1, pg2 = 2, maria = 3, cache (Redis, the last resource) = 4.
 */
const CASES: { step: string; expect: 'committed' | 'aborted' }[] = [
  { step: 'logged', expect: 'aborted' },
  { step: 'prepared:1', expect: 'aborted' },
  { step: 'prepared:2', expect: 'aborted' },
  { step: 'prepared:3', expect: 'aborted' },
  { step: 'last-resource', expect: 'aborted' },
  { step: 'last-resource-committed', expect: 'committed' },
  { step: 'decided', expect: 'committed' },
  { step: 'committed:1', expect: 'committed' },
  { step: 'committed:2', expect: 'committed' },
  { step: 'committed:3', expect: 'committed' },
];

describe('coordinator killed with SIGKILL at each step: recovery converges', () => {
  let fx: TransactionFixture;
  let dm: DataManager;

  before(async () => {
    fx = await TransactionFixture.start();
    // Grace 0: the test's coordinator is dead, so recovery may act on the second pass that sees it undecided.
    dm = await fx.manager({ recoveryGrace: 0 });
    await fx.createTables(dm);
  });
  after(async () => {
    await fx?.close();
  });

  for (const [index, { step, expect }] of CASES.entries()) {
    it(`killed after "${step}": recovery ${expect === 'committed' ? 'commits' : 'rolls back'} every participant`, async () => {
      const row = index + 1;
      const run = await runTxWorker({ settings: fx.settings(), step, row, prefix: fx.prefix });
      assert.equal(run.signal, 'SIGKILL', `the worker should have died at ${step}; it ended with code ${run.code}: ${run.stdout}\n${run.stderr}`);
      const globalId = run.globalId!;
      const reports = await fx.recoverUntilSettled(dm);
      const acted = reports.flatMap((r) => [...r.committed, ...r.rolledBack]);
      assert.ok(acted.includes(globalId), `recovery should have finished ${globalId}; reports: ${JSON.stringify(reports)}`);

      const seen = {
        pg1: (await dm.database('pg1').query('SELECT 1 FROM t WHERE id = ?', [row])).length,
        pg2: (await dm.database('pg2').query('SELECT 1 FROM t WHERE id = ?', [row])).length,
        maria: (await dm.database('maria').query('SELECT 1 FROM t WHERE id = ?', [row])).length,
        cache: await fx.redis.exists(`${fx.prefix}t:${row}`),
      };
      const n = expect === 'committed' ? 1 : 0;
      assert.deepEqual(seen, { pg1: n, pg2: n, maria: n, cache: n });
      assert.deepEqual(await fx.pgPrepared(), [], 'pg_prepared_xacts ends empty');
      assert.deepEqual(await fx.xaPrepared(), [], 'XA RECOVER ends empty');
      const [record] = await (await dm.state()).adapter.query('SELECT state, decision, outcome FROM datakeep.tx_log WHERE global_id = ?', [globalId]);
      assert.deepEqual(record, { state: 'finished', decision: expect === 'committed' ? 'commit' : 'abort', outcome: expect });
    });
  }
});
