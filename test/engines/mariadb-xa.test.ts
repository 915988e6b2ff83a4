import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { resolveDatabaseConfig } from '../../src/config/resolve-database-config.js';
import { MariadbAdapter } from '../../src/engines/mariadb/mariadb-adapter.js';
import { DATAKEEP_XA_FORMAT_ID, datakeepXid, xidKey, xidSql, type Xid } from '../../src/engines/mariadb/mariadb-xid.js';
import { TransactionError, UsageError } from '../../src/errors/index.js';
import { silentLogger } from '../../src/util/logger.js';
import { createMariadbTestDatabase, type MariadbTestDatabase } from '../support/mariadb-server.js';

describe('mariadb XA primitives (127.0.0.1:3306)', () => {
  let db: MariadbTestDatabase;
  let adapter: MariadbAdapter;
  // XA RECOVER is server-wide: a node id of its own keeps this file's branches apart from any other test's.
  const nodeId = `test-${randomBytes(4).toString('hex')}`;
  let counter = 0;
  const nextXid = (branch = 'b1'): Xid => datakeepXid({ nodeId, globalId: `g${(counter += 1)}`, branch });
  const ours = async () => (await adapter.xa.recover({ ownedBy: nodeId })).map((r) => xidKey(r.xid)).sort();
  const ids = async () => (await adapter.query<{ id: number }>('SELECT id FROM xa_t ORDER BY id')).map((r) => r.id);

  /** Prepares an empty branch with raw SQL on a session of its own, then disconnects it and waits until it is gone. */
  const prepareElsewhere = async (x: Xid) => {
    const raw = await db.admin();
    const threadId = raw.threadId;
    try {
      await raw.query(`XA START ${xidSql(x)}`);
      await raw.query(`XA END ${xidSql(x)}`);
      await raw.query(`XA PREPARE ${xidSql(x)}`);
    } finally {
      await raw.end();
    }
    while ((await adapter.query('SELECT 1 FROM information_schema.PROCESSLIST WHERE ID = ?', [threadId])).length > 0) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };

  before(async () => {
    db = await createMariadbTestDatabase();
    adapter = new MariadbAdapter(resolveDatabaseConfig({ ...db.config, poolSize: 4 }, 'test'), { logger: silentLogger });
    await adapter.connect();
    await adapter.execute('CREATE TABLE xa_t (id int PRIMARY KEY) ENGINE=InnoDB');
  });
  after(async () => {
    // Whatever a failed test left prepared would hold locks and block DROP DATABASE.
    const leftovers = (await adapter.xa.recover().catch(() => [])).filter((r) => r.xid.gtrid.subarray(0, nodeId.length).toString('latin1') === nodeId);
    for (const r of leftovers) await adapter.xa.rollback(r.xid).catch(() => undefined);
    await adapter?.close();
    await db?.drop();
  });

  it('prepares on one connection, drops that connection, and commits from another: the row is visible', async () => {
    const xid = nextXid();
    const branch = await adapter.xa.start(xid);
    await branch.execute('INSERT INTO xa_t (id) VALUES (?)', [1]);
    await branch.prepare();
    assert.equal(branch.state, 'prepared');
    await branch.detach(); // disconnects the branch's session; the prepared branch stays on the server
    assert.deepEqual(await ours(), [xidKey(xid)]);
    assert.deepEqual(await ids(), [], 'a prepared branch is not visible before commit');
    assert.equal(await adapter.xa.commit(xid), true);
    assert.deepEqual(await ids(), [1]);
    assert.deepEqual(await ours(), []);
    // Phase 2 is idempotent for a coordinator that retries: the second commit finds nothing to do.
    assert.equal(await adapter.xa.commit(xid), false);
  });

  it('rolls back a prepared branch from another connection', async () => {
    const xid = nextXid();
    const branch = await adapter.xa.start(xid);
    await branch.execute('INSERT INTO xa_t (id) VALUES (?)', [2]);
    await branch.prepare();
    await branch.detach();
    assert.equal(await adapter.xa.rollback(xid), true);
    assert.deepEqual(await ids(), [1]);
    assert.deepEqual(await ours(), []);
  });

  it('recover lists only this coordinator\'s xids; foreign and other nodes\' branches round-trip as raw xids', async () => {
    const mine = nextXid('branch-é');
    const otherNode = datakeepXid({ nodeId: `${nodeId}x`, globalId: 'g1', branch: 'b1' });
    // Bytes that are not text (NUL, 0xff) and a foreign format id: only hex literals carry them safely.
    const foreign: Xid = { formatId: 1, gtrid: Buffer.concat([Buffer.from(nodeId), Buffer.from([0x3a, 0x00, 0xff, 0x27])]), bqual: Buffer.from([0x00, 0x01]) };
    for (const x of [foreign, otherNode]) await prepareElsewhere(x);
    const branch = await adapter.xa.start(mine);
    await branch.execute('INSERT INTO xa_t (id) VALUES (?)', [3]);
    await branch.prepare();
    await branch.detach();
    try {
      assert.deepEqual(await ours(), [xidKey(mine)]);
      const all = await adapter.xa.recover();
      const byKey = new Map(all.map((r) => [xidKey(r.xid), r]));
      assert.deepEqual(byKey.get(xidKey(mine))?.datakeep, { nodeId, globalId: `g${counter}`, branch: 'branch-é' });
      assert.equal(byKey.get(xidKey(otherNode))?.datakeep?.nodeId, `${nodeId}x`);
      const f = byKey.get(xidKey(foreign));
      assert.ok(f, 'the foreign xid is listed by an unfiltered recover');
      assert.equal(f.datakeep, undefined);
      assert.equal(f.xid.formatId, 1);
      assert.ok(f.xid.gtrid.equals(foreign.gtrid) && f.xid.bqual.equals(foreign.bqual), 'binary gtrid and bqual round-trip');
      assert.equal(typeof f.xid.formatId, 'number');
    } finally {
      const results = await Promise.allSettled([foreign, otherNode, mine].map((x) => adapter.xa.rollback(x)));
      // The empty branches were prepared read-only; MariaDB answers XA_RBROLLBACK for those, which counts as rolled back.
      assert.deepEqual(results.map((r) => (r.status === 'fulfilled' ? r.value : String(r.reason))), [true, true, true]);
    }
    assert.deepEqual(await ids(), [1]);
  });

  it('commits on the branch\'s own session (two-phase) and in one phase', async () => {
    const twoPhase = await adapter.xa.start(nextXid());
    await twoPhase.execute('INSERT INTO xa_t (id) VALUES (?)', [4]);
    await twoPhase.prepare();
    // While the preparing session lives, the branch belongs to it: another session does not see the xid.
    assert.equal(await adapter.xa.commit(twoPhase.xid), false);
    await twoPhase.commit();
    assert.equal(twoPhase.state, 'committed');

    const onePhase = await adapter.xa.start(nextXid());
    await onePhase.execute('INSERT INTO xa_t (id) VALUES (?)', [5]);
    await assert.rejects(onePhase.commit(), UsageError, 'an unprepared branch needs onePhase: true');
    await onePhase.commit({ onePhase: true });
    assert.equal(onePhase.state, 'committed');
    assert.deepEqual(await ids(), [1, 4, 5]);
    assert.deepEqual(await ours(), []);
  });

  it('a failed statement in a branch prevents its prepare; rollback clears it and returns the session to the pool', async () => {
    const branch = await adapter.xa.start(nextXid());
    await branch.execute('INSERT INTO xa_t (id) VALUES (?)', [6]);
    await assert.rejects(branch.execute('INSERT INTO xa_t (id) VALUES (?)', [6]));
    await assert.rejects(branch.prepare(), TransactionError);
    await branch.rollback();
    assert.equal(branch.state, 'rolled back');
    await assert.rejects(branch.execute('SELECT 1'), TransactionError, 'a finished branch refuses statements');
    assert.equal(adapter.metrics().connections.active, 0, 'no session is left checked out');
    assert.deepEqual(await ids(), [1, 4, 5]);
  });

  it('refuses xids beyond XA limits with a usage error', async () => {
    assert.throws(() => datakeepXid({ nodeId, globalId: 'g'.repeat(64), branch: 'b' }), UsageError);
    assert.throws(() => datakeepXid({ nodeId: 'a:b', globalId: 'g', branch: 'b' }), UsageError);
    await assert.rejects(adapter.xa.start({ formatId: DATAKEEP_XA_FORMAT_ID, gtrid: Buffer.alloc(65), bqual: Buffer.alloc(1) }), UsageError);
    await assert.rejects(adapter.xa.commit({ formatId: -1, gtrid: Buffer.alloc(1), bqual: Buffer.alloc(1) }), UsageError);
  });
});
