import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CliIo } from '../../src/cli/cli-io.js';
import { runCli } from '../../src/cli/main.js';
import type { DataManager } from '../../src/data-manager.js';
import { UsageError } from '../../src/errors/index.js';
import { DistributedTransactionError } from '../../src/transactions/distributed-transaction-error.js';
import { runTxWorker } from '../support/run-tx-worker.js';
import { TransactionFixture } from '../support/transaction-fixture.js';

function capture(): CliIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (t) => stdout.push(t), err: (t) => stderr.push(t) };
}

describe('recovery after a participant restart; operator list and resolve (API and CLI)', () => {
  let fx: TransactionFixture;
  let dm: DataManager;
  const dir = mkdtempSync(join(tmpdir(), 'dk-tx-cli-'));
  let configFile: string;

  const count = async (row: number) => ({
    pg1: (await dm.database('pg1').query('SELECT 1 FROM t WHERE id = ?', [row])).length,
    pg2: (await dm.database('pg2').query('SELECT 1 FROM t WHERE id = ?', [row])).length,
    maria: (await dm.database('maria').query('SELECT 1 FROM t WHERE id = ?', [row])).length,
    cache: await fx.redis.exists(`${fx.prefix}t:${row}`),
  });

  before(async () => {
    fx = await TransactionFixture.start();
    dm = await fx.manager({ recoveryGrace: 0 });
    await fx.createTables(dm);
    configFile = join(dir, 'datakeep.config.json');
    writeFileSync(configFile, JSON.stringify({ databases: fx.databases(), state: { url: fx.state.url } }));
  });
  after(async () => {
    await fx?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('PostgreSQL restarted while its branches are prepared: the commit is in doubt, then recovery finishes it', async () => {
    const error = await dm.transactions.distributed(['pg1', 'pg2', 'maria'], async (tx) => {
      for (const id of ['pg1', 'pg2', 'maria']) await tx.on(id).execute('INSERT INTO t (id, v) VALUES (?, ?)', [1, 'restart']);
    }, {
      // Every branch prepared (none holds the decision in a row): both PostgreSQL branches must survive the restart.
      decisionIn: false,
      onStep: async (step) => {
        if (step === 'decided') await fx.cluster.restart('fast');
      },
    }).then(() => assert.fail('phase 2 on the restarted server should have failed'), (e: unknown) => e);
    assert.ok(error instanceof DistributedTransactionError, String(error));
    assert.equal(error.outcome, 'in-doubt');
    assert.equal(error.decision, 'commit');
    assert.equal((await fx.pgPrepared()).length, 2, 'both PostgreSQL branches survived the restart, prepared');
    assert.equal((await dm.transactions.metrics()).prepared.count >= 2, true);
    await fx.recoverUntilSettled(dm);
    assert.deepEqual(await count(1), { pg1: 1, pg2: 1, maria: 1, cache: 0 });
    assert.deepEqual(await fx.pgPrepared(), []);
    assert.deepEqual(await fx.xaPrepared(), []);
  });

  it('list shows a transaction stuck before its last resource committed; --commit is refused, --rollback finishes it, audited', async () => {
    const operator = await fx.manager({ recoveryGrace: 3_600_000 });
    const run = await runTxWorker({ settings: fx.settings(), step: 'last-resource', row: 2, prefix: fx.prefix });
    assert.equal(run.signal, 'SIGKILL', run.stderr);
    const id = run.globalId!;
    const view = (await operator.transactions.list()).find((v) => v.globalId === id);
    assert.ok(view, 'the transaction is listed');
    assert.equal(view.state, 'last-resource');
    assert.equal(view.inDoubt, true);
    assert.deepEqual(view.participants.map((p) => `${p.adapterId}:${p.role}`), ['pg1:xa', 'pg2:xa', 'maria:xa', 'cache:last-resource']);
    // MariaDB lists the branch once the dead worker's session is gone.
    for (let i = 0; i < 100 && (await fx.xaPrepared()).length === 0; i += 1) await new Promise((r) => setTimeout(r, 20));

    const refused = await operator.transactions.resolve(id, 'commit').catch((e: unknown) => e);
    assert.ok(refused instanceof UsageError);
    assert.match(refused.message, /last resource cache did not commit/);

    const io = capture();
    assert.equal(await runCli(['tx', 'list', '--json', '--config', configFile], io), 1, io.stderr.join('\n'));
    const listed = JSON.parse(io.stdout.join('\n')) as { transactions: { globalId: string; inDoubt: boolean }[] };
    assert.ok(listed.transactions.some((t) => t.globalId === id && t.inDoubt));

    const dry = capture();
    assert.equal(await runCli(['tx', 'resolve', id, '--rollback', '--dry-run', '--config', configFile], dry), 0, dry.stderr.join('\n'));
    assert.match(dry.stdout.join('\n'), /dry run: would rollback/);
    assert.equal((await fx.pgPrepared()).length, 2, 'a dry run changes nothing');

    for (let attempt = 0; ; attempt += 1) {
      const res = capture();
      const code = await runCli(['tx', 'resolve', id, '--rollback', '--config', configFile], res);
      if (code === 0) {
        assert.match(res.stdout.join('\n'), /rolled back .*outcome aborted/);
        break;
      }
      // Only a branch still attached to the dead worker's session may delay it.
      assert.match(res.stderr.join('\n'), /still belong to a live session/);
      assert.ok(attempt < 50);
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(await count(2), { pg1: 0, pg2: 0, maria: 0, cache: 0 });
    assert.deepEqual(await fx.pgPrepared(), []);
    assert.deepEqual(await fx.xaPrepared(), []);
    const audit = (await (await operator.state()).auditLog(10)).filter((a) => a.action === 'tx.resolve' && a.target === id);
    assert.deepEqual(audit.map((a) => a.dryRun).sort(), [false, true]);
    assert.equal(audit.find((a) => !a.dryRun)!.details.outcome, 'aborted');
  });

  it('resolve --commit finishes a transaction whose last resource committed; an unknown id is a UsageError', async () => {
    const operator = await fx.manager({ recoveryGrace: 3_600_000 });
    const run = await runTxWorker({ settings: fx.settings(), step: 'last-resource-committed', row: 3, prefix: fx.prefix });
    assert.equal(run.signal, 'SIGKILL', run.stderr);
    const id = run.globalId!;
    for (let attempt = 0; ; attempt += 1) {
      try {
        const result = await operator.transactions.resolve(id, 'commit', { actor: 'test-operator' });
        assert.equal(result.outcome, 'committed');
        break;
      } catch (error) {
        assert.match((error as Error).message, /still belong to a live session/);
        assert.ok(attempt < 50);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    assert.deepEqual(await count(3), { pg1: 1, pg2: 1, maria: 1, cache: 1 });
    assert.deepEqual(await fx.pgPrepared(), []);
    assert.deepEqual(await fx.xaPrepared(), []);
    const [entry] = (await (await operator.state()).auditLog(5)).filter((a) => a.target === id);
    assert.equal(entry!.actor, 'test-operator');
    const unknown = await operator.transactions.resolve('zzzzzzzzzzzz0000', 'rollback').catch((e: unknown) => e);
    assert.ok(unknown instanceof UsageError);
    assert.match(unknown.message, /neither in the coordinator log nor prepared/);
    const bad = capture();
    assert.equal(await runCli(['tx', 'resolve', id, '--config', configFile], bad), 2);
    assert.match(bad.stderr.join('\n'), /give exactly one of them/);
  });

  it('validateSystem reports prepared branches, as errors once older than stalePreparedAfter', async () => {
    const watcher = await fx.manager({ recoveryGrace: 3_600_000, stalePreparedAfter: 0 });
    const run = await runTxWorker({ settings: fx.settings(), step: 'decided', row: 4, prefix: fx.prefix });
    assert.equal(run.signal, 'SIGKILL');
    const validation = await watcher.validateSystem();
    assert.equal(validation.valid, false);
    assert.ok(validation.errors.some((e) => /pg1: \d+ prepared transaction\(s\) older than 0 s hold locks and block VACUUM/.test(e)), validation.errors.join('\n'));
    assert.ok(validation.checks.some((c) => c.name === 'transactions:prepare:pg1' && c.ok));
    const metrics = await watcher.transactions.metrics();
    assert.ok(metrics.prepared.count >= 2);
    assert.ok(metrics.inDoubtLogged.count >= 1);
    await fx.recoverUntilSettled(dm);
    assert.deepEqual(await count(4), { pg1: 1, pg2: 1, maria: 1, cache: 1 });
    const after = await watcher.validateSystem();
    assert.equal(after.valid, true, after.errors.join('\n'));
  });
});
