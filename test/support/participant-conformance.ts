import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, afterEach, before, describe, it } from 'node:test';
import type { DatabaseAdapter, TransactionContext } from '../../src/adapters/database-adapter.js';
import type { DatabaseType } from '../../src/config/database-config.js';
import { enginePart } from '../../src/engines/engine-registry.js';
import { CapabilityError, TimeoutError } from '../../src/errors/index.js';
import type { CommitMarkableParticipant } from '../../src/transactions/commit-markable.js';
import type { LastResource } from '../../src/transactions/last-resource.js';
import { runLocalTransaction } from '../../src/transactions/local-transaction.js';
import { newGlobalId, type BranchId } from '../../src/transactions/transaction-ids.js';
import type { FinishResult, XaBranchHandle, XaParticipant } from '../../src/transactions/xa-participant.js';
import { openAdapter, PartFixture, type PartNamespace } from './part-namespace.js';

/**
 * One suite that every engine's transaction part passes: its XA participant or its last resource, and its local
 * deadline, each reached through `enginePart` as the transaction manager reaches it.
 */
export interface ParticipantTarget {
  name: string;
  engine: DatabaseType;
  /** Set when the suite cannot run here (no server): it then reports one skipped test saying why. */
  skip?: string;
  /** A namespace on a server that can do everything the part offers (for XA: prepare). */
  namespace(): Promise<PartNamespace>;
  xa?: {
    /** What the engine says `listPrepared` covers; checked against what a neighbour database lists. */
    preparedScope: 'database' | 'server';
    /** Another database on the same server. */
    neighbour(): Promise<PartNamespace>;
    /** What `finish` says for a prepared branch whose own session still lives (MariaDB keeps it attached). */
    finishWhileAttached: FinishResult;
    /** A namespace on a server of this engine that cannot prepare, and what `cannotPrepare()` must say. */
    incapable?: { namespace(): Promise<PartNamespace>; says: RegExp };
  };
  /** The engine's branch can hold a distributed transaction's decision in a row committed with its work. */
  commitMarkable?: true;
  lastResource?: {
    /** Writes `value` at `key` through the transaction context `run` hands to its body. */
    write(tx: TransactionContext, key: string, value: string): Promise<void>;
    read(adapter: DatabaseAdapter, key: string): Promise<string | undefined>;
  };
  deadline?: {
    /** How a statement is made to block: on a row another connection holds, or by sleeping (one-session engines). */
    blocker: 'row-lock' | { sleep: string };
    /** Set when the server does not stop a blocked statement (a known gap): that test then runs as a todo saying why. */
    gap?: string;
  };
}

const SLACK = 3000;
const TIMEOUT = 500;

export function participantConformanceSuite(target: ParticipantTarget): void {
  if (target.skip) {
    it(`transaction part conformance: ${target.name}`, { skip: target.skip }, () => {});
    return;
  }
  describe(`transaction part conformance: ${target.name}`, { timeout: 120_000 }, () => {
    const f = new PartFixture(target);

    if (target.xa) xaTests(target, target.xa, f);
    if (target.commitMarkable) commitMarkableTests(f);
    if (target.lastResource) lastResourceTests(target.lastResource, f);
    if (target.deadline) deadlineTests(target.deadline, f);
  });
}

function commitMarkable(adapter: DatabaseAdapter): CommitMarkableParticipant {
  const part = enginePart(adapter, 'transactions', 'distributed transactions');
  assert.ok(part.commitMarkable, `${adapter.type} offers no commit-markable participant`);
  return part.commitMarkable(adapter);
}

function commitMarkableTests(f: PartFixture): void {
  const nodeId = `cmr${randomBytes(4).toString('hex')}`;
  let rowId = 0;
  const table = () => `${f.namespace.prefix}_cmr`;
  const rows = async (adapter: DatabaseAdapter) => (await adapter.query<{ id: unknown }>(`SELECT id FROM ${table()} ORDER BY id`)).map((r) => Number(r.id));
  /** A branch holding the decision of a new global id, with one new row written. */
  const branch = async () => {
    const id: BranchId = { nodeId, globalId: newGlobalId(), branch: '1' };
    const participant = commitMarkable(f.a);
    await participant.ready();
    const handle = await participant.begin(id, { deadline: Date.now() + 30_000 });
    const row = (rowId += 1);
    assert.equal(await handle.context.execute(`INSERT INTO ${table()} (id) VALUES (?)`, [row]), 1);
    return { id, handle, row };
  };

  describe('commit-markable participant (holds the decision in a row)', () => {
    before(async () => {
      await f.a.execute(`CREATE TABLE ${table()} (id integer PRIMARY KEY)`);
    });

    it('commitWithDecision commits the work and the decision together; peek and decideAbort then say commit; forget removes the row', async () => {
      const { id, handle, row } = await branch();
      assert.equal(handle.adapterId, f.a.id);
      assert.deepEqual(await commitMarkable(f.b).peek([id.globalId]), new Map(), 'no decision before the commit');
      assert.ok(!(await rows(f.b)).includes(row));
      await handle.commitWithDecision();
      assert.ok((await rows(f.b)).includes(row), 'the work is committed');
      assert.deepEqual(await commitMarkable(f.b).peek([id.globalId, newGlobalId()]), new Map([[id.globalId, 'commit']]));
      assert.equal(await commitMarkable(f.b).decideAbort(nodeId, id.globalId), 'commit', 'a decided transaction stays decided');
      assert.ok((await commitMarkable(f.b).leftovers(nodeId, 0, 100)).includes(id.globalId));
      await commitMarkable(f.b).forget([id.globalId]);
      assert.deepEqual(await commitMarkable(f.b).peek([id.globalId]), new Map());
    });

    it('decideAbort first: the id is decided abort, and a branch committing it afterwards fails on the key and leaves no work', async () => {
      const { id, handle, row } = await branch();
      assert.equal(await commitMarkable(f.b).decideAbort(nodeId, id.globalId), 'abort');
      await assert.rejects(handle.commitWithDecision());
      assert.ok(!(await rows(f.b)).includes(row), 'nothing of the late commit');
      assert.deepEqual(await commitMarkable(f.b).peek([id.globalId]), new Map([[id.globalId, 'abort']]));
      await commitMarkable(f.b).forget([id.globalId]);
    });

    it('a branch rolled back leaves neither work nor decision', async () => {
      const { id, handle, row } = await branch();
      await handle.rollback();
      assert.ok(!(await rows(f.b)).includes(row));
      assert.deepEqual(await commitMarkable(f.b).peek([id.globalId]), new Map());
    });
  });
}

function xaParticipant(adapter: DatabaseAdapter): XaParticipant {
  const part = enginePart(adapter, 'transactions', 'distributed transactions');
  assert.ok(part.xaParticipant, `${adapter.type} offers no XA participant`);
  return part.xaParticipant(adapter);
}

function xaTests(target: ParticipantTarget, xa: NonNullable<ParticipantTarget['xa']>, f: PartFixture): void {
  // XA RECOVER lists the whole server: a node id of its own keeps this suite to its own branches.
  const nodeId = `conf${randomBytes(4).toString('hex')}`;
  const handles: XaBranchHandle[] = [];
  let rowId = 0;
  const table = () => `${f.namespace.prefix}_xa`;
  const rows = async (adapter: DatabaseAdapter) => (await adapter.query<{ id: unknown }>(`SELECT id FROM ${table()} ORDER BY id`)).map((r) => Number(r.id));
  const ours = async (adapter: DatabaseAdapter, id: BranchId) => (await xaParticipant(adapter).listPrepared()).filter((p) => p.nodeId === nodeId && p.globalId === id.globalId);

  /** A branch that inserted one new row and prepared. */
  const prepared = async (): Promise<{ id: BranchId; handle: XaBranchHandle; row: number }> => {
    const id: BranchId = { nodeId, globalId: newGlobalId(), branch: '1' };
    const handle = await xaParticipant(f.a).begin(id, { deadline: Date.now() + 30_000 });
    handles.push(handle);
    const row = (rowId += 1);
    assert.equal(await handle.context.execute(`INSERT INTO ${table()} (id) VALUES (?)`, [row]), 1);
    await handle.prepare();
    return { id, handle, row };
  };

  describe('XA participant', () => {
    before(async () => {
      await f.a.execute(`CREATE TABLE ${table()} (id integer PRIMARY KEY)`);
    });
    afterEach(async () => {
      for (const h of handles.splice(0)) await h.rollback().catch(() => undefined);
    });
    after(async () => {
      // A prepared branch left behind holds locks and blocks DROP DATABASE.
      for (const p of (await xaParticipant(f.a).listPrepared().catch(() => [])).filter((x) => x.nodeId === nodeId)) {
        await xaParticipant(f.a).finish({ nodeId, globalId: p.globalId!, branch: p.branch! }, false).catch(() => undefined);
      }
    });

    it('cannotPrepare() is undefined on a server that can prepare', async () => {
      assert.equal(await xaParticipant(f.a).cannotPrepare(), undefined);
    });

    it('a prepared branch is listed with its ids and invisible to others; finish(id, true) from another session commits it, then says not-found', async () => {
      const { id, handle, row } = await prepared();
      assert.equal(handle.adapterId, f.a.id);
      assert.equal(handle.branch, id.branch);
      const listed = await ours(f.b, id);
      assert.equal(listed.length, 1, 'listed once');
      assert.deepEqual({ ...listed[0], preparedAt: undefined }, { ...listed[0], adapterId: f.b.id, type: target.engine, nodeId, globalId: id.globalId, branch: id.branch, preparedAt: undefined });
      assert.ok(listed[0]!.transactionId.includes(id.globalId), listed[0]!.transactionId);
      assert.ok(!(await rows(f.b)).includes(row), 'not visible before commit');
      await handle.release();
      assert.equal(await xaParticipant(f.b).finish(id, true), 'done');
      assert.ok((await rows(f.b)).includes(row), 'visible from another connection after commit');
      assert.deepEqual(await ours(f.b, id), []);
      assert.equal(await xaParticipant(f.b).finish(id, true), 'not-found');
      assert.equal(await xaParticipant(f.a).finish(id, false), 'not-found');
    });

    it("a prepared branch committed by its handle (phase 2 on its own session) is visible and no longer listed", async () => {
      const { id, handle, row } = await prepared();
      await handle.commit();
      assert.ok((await rows(f.b)).includes(row));
      assert.deepEqual(await ours(f.b, id), []);
      assert.equal(await xaParticipant(f.b).finish(id, true), 'not-found');
    });

    it('a prepared branch rolled back leaves nothing: by its handle, and by finish(id, false) from another session', async () => {
      const first = await prepared();
      await first.handle.rollback();
      const second = await prepared();
      await second.handle.release();
      assert.equal(await xaParticipant(f.b).finish(second.id, false), 'done');
      const left = await rows(f.b);
      assert.ok(!left.includes(first.row) && !left.includes(second.row), `rows left: ${left.join(', ')}`);
      assert.deepEqual([...(await ours(f.b, first.id)), ...(await ours(f.b, second.id))], []);
      assert.equal(await xaParticipant(f.b).finish(second.id, false), 'not-found');
    });

    it('a branch rolled back before prepare leaves nothing and is never listed', async () => {
      const id: BranchId = { nodeId, globalId: newGlobalId(), branch: '2' };
      const handle = await xaParticipant(f.a).begin(id, { deadline: Date.now() + 30_000 });
      handles.push(handle);
      const row = (rowId += 1);
      await handle.context.execute(`INSERT INTO ${table()} (id) VALUES (?)`, [row]);
      await handle.rollback();
      assert.ok(!(await rows(f.b)).includes(row));
      assert.deepEqual(await ours(f.b, id), []);
    });

    it(`finish() while the branch's own session still lives says "${xa.finishWhileAttached}"`, async () => {
      const { id, handle, row } = await prepared();
      assert.equal(await xaParticipant(f.b).finish(id, true), xa.finishWhileAttached);
      if (xa.finishWhileAttached === 'attached') {
        assert.ok(!(await rows(f.b)).includes(row), 'still prepared, not committed');
        await handle.release();
        assert.equal(await xaParticipant(f.b).finish(id, true), 'done');
      } else {
        await handle.release();
      }
      assert.ok((await rows(f.b)).includes(row));
    });

    it(`preparedScope is "${xa.preparedScope}": a participant on another database of the server ${xa.preparedScope === 'server' ? 'lists' : 'does not list'} the branch`, async () => {
      assert.equal(xaParticipant(f.a).preparedScope, xa.preparedScope);
      const neighbour = await xa.neighbour();
      const other = await openAdapter(neighbour.config);
      try {
        const { id, handle } = await prepared();
        assert.equal((await ours(other, id)).length, xa.preparedScope === 'server' ? 1 : 0);
        await handle.rollback();
      } finally {
        await other.close();
        await neighbour.teardown();
      }
    });

    const incapable = xa.incapable;
    if (incapable) {
      it('on a server that cannot prepare, cannotPrepare() says why and a prepare fails with a CapabilityError', async () => {
        const elsewhere = await incapable.namespace();
        const adapter = await openAdapter(elsewhere.config);
        try {
          assert.match((await xaParticipant(adapter).cannotPrepare()) ?? '(undefined)', incapable.says);
          const handle = await xaParticipant(adapter).begin({ nodeId, globalId: newGlobalId(), branch: '1' }, { deadline: Date.now() + 30_000 });
          await assert.rejects(handle.prepare(), CapabilityError);
          await handle.rollback();
        } finally {
          await adapter.close();
          await elsewhere.teardown();
        }
      });
    }
  });
}

function lastResourceTests(io: NonNullable<ParticipantTarget['lastResource']>, f: PartFixture): void {
  let n = 0;
  const names = () => {
    n += 1;
    return { marker: `${f.namespace.prefix}:marker:${n}`, key: `${f.namespace.prefix}:k${n}` };
  };
  const lastResource = (adapter: DatabaseAdapter): LastResource => {
    const part = enginePart(adapter, 'transactions', 'distributed transactions');
    assert.ok(part.lastResource, `${adapter.type} offers no last resource`);
    return part.lastResource(adapter);
  };

  describe('last resource', () => {
    it("run(marker, body) commits the body's writes together with the marker and returns the body's value", async () => {
      const { marker, key } = names();
      assert.equal(await lastResource(f.b).hasMarker(marker), false);
      const value = await lastResource(f.a).run(marker, async (tx) => {
        await io.write(tx, key, 'committed');
        return 42;
      });
      assert.equal(value, 42);
      assert.equal(await io.read(f.b, key), 'committed');
      assert.equal(await lastResource(f.b).hasMarker(marker), true);
    });

    it('a body that throws leaves neither its writes nor the marker', async () => {
      const { marker, key } = names();
      await assert.rejects(
        lastResource(f.a).run(marker, async (tx) => {
          await io.write(tx, key, 'never');
          throw new Error('the body failed');
        }),
        /the body failed/,
      );
      assert.equal(await io.read(f.b, key), undefined);
      assert.equal(await lastResource(f.b).hasMarker(marker), false);
    });

    it("clearMarker removes the marker and leaves the body's writes; clearing again is harmless", async () => {
      const { marker, key } = names();
      await lastResource(f.a).run(marker, (tx) => io.write(tx, key, 'kept'));
      await lastResource(f.a).clearMarker(marker);
      assert.equal(await lastResource(f.b).hasMarker(marker), false);
      assert.equal(await io.read(f.b, key), 'kept');
      await lastResource(f.a).clearMarker(marker);
    });
  });
}

function deadlineTests(deadline: NonNullable<ParticipantTarget['deadline']>, f: PartFixture): void {
  const table = () => `${f.namespace.prefix}_dl`;
  const value = async () => Number((await f.b.query<{ v: unknown }>(`SELECT v FROM ${table()} WHERE id = 1`))[0]?.v);

  describe('local deadline', () => {
    before(async () => {
      await f.a.execute(`CREATE TABLE ${table()} (id integer PRIMARY KEY, v integer NOT NULL)`);
      await f.a.execute(`INSERT INTO ${table()} (id, v) VALUES (1, 0)`);
    });

    it('a callback that returns after the timeout is rolled back with a TimeoutError', async () => {
      const before = await value();
      const error = await runLocalTransaction(f.a, async (tx) => {
        await tx.execute(`UPDATE ${table()} SET v = v + 1000 WHERE id = 1`);
        await new Promise((resolve) => setTimeout(resolve, TIMEOUT * 2));
      }, { timeout: TIMEOUT }).then(() => undefined, (e: unknown) => e);
      assert.ok(error instanceof TimeoutError, String(error));
      assert.equal(await value(), before, 'nothing committed');
    });

    const blocker = deadline.blocker;
    const how = blocker === 'row-lock' ? 'waiting for a row another connection holds' : 'sleeping';
    it(`a statement ${how} is stopped by the server within about the timeout, with a TimeoutError`, { ...(deadline.gap ? { todo: deadline.gap } : {}) }, async () => {
      const before = await value();
      let unblock!: () => void;
      const unblocked = new Promise<void>((resolve) => (unblock = resolve));
      let holding: Promise<void> = Promise.resolve();
      if (blocker === 'row-lock') {
        assert.ok(f.namespace.shared && f.a !== f.b);
        let locked!: () => void;
        const isLocked = new Promise<void>((resolve) => (locked = resolve));
        holding = f.b.transaction(async (tx) => {
          await tx.execute(`UPDATE ${table()} SET v = v + 1 WHERE id = 1`);
          locked();
          // Bounded: if the server never stops the blocked statement, the test fails on time instead of hanging.
          await Promise.race([unblocked, new Promise((resolve) => setTimeout(resolve, 15_000))]);
        });
        await isLocked;
      }
      const statement = blocker === 'row-lock' ? `UPDATE ${table()} SET v = v + 10 WHERE id = 1` : blocker.sleep;
      const t0 = Date.now();
      const error = await runLocalTransaction(f.a, (tx) => tx.execute(statement), { timeout: TIMEOUT }).then(() => undefined, (e: unknown) => e);
      const took = Date.now() - t0;
      unblock();
      await holding;
      console.log(`${f.a.type}: a statement ${how} under a ${TIMEOUT} ms timeout ended after ${took} ms`);
      assert.ok(error instanceof TimeoutError, String(error));
      assert.ok(took >= TIMEOUT * 0.8 && took <= TIMEOUT + SLACK, `stopped after ${took} ms for a timeout of ${TIMEOUT} ms`);
      assert.equal(await value(), before + (blocker === 'row-lock' ? 1 : 0), "the holder's write committed, the stopped one did not");
      // The connection that was stopped is usable again.
      await runLocalTransaction(f.a, (tx) => tx.execute(`UPDATE ${table()} SET v = v + 100 WHERE id = 1`), { timeout: 10_000 });
      assert.equal(await value(), before + (blocker === 'row-lock' ? 101 : 100));
    });
  });
}
