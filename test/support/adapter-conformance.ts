import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isSqlAdapter, type DatabaseAdapter } from '../../src/adapters/database-adapter.js';
import type { IsolationLevel } from '../../src/adapters/capabilities.js';
import { CapabilityError, DatakeepError, LifecycleError, TransactionError } from '../../src/errors/index.js';

/**
 * One suite that every engine adapter passes (CONVENTIONS 2). A target gives a fresh, isolated adapter (its own
 * database, db index or key prefix); the suite runs what the adapter's capabilities declare.
 */
export interface ConformanceTarget {
  name: string;
  /** A new, not yet connected adapter on an isolated namespace, and how to remove that namespace. */
  create(): Promise<{ adapter: DatabaseAdapter; teardown(): Promise<void> }>;
  /** For engines without SQL: a command that writes `value` and one that reads it back through `command()`. */
  roundTrip?: { write(key: string, value: string): string | unknown[]; read(key: string): string | unknown[]; decode?(reply: unknown): unknown };
  /** SQL dialect bits that differ between engines. */
  sql?: { textType: string };
}

const ALL_LEVELS: IsolationLevel[] = ['read uncommitted', 'read committed', 'repeatable read', 'serializable'];

export function adapterConformanceSuite(target: ConformanceTarget): void {
  describe(`adapter conformance: ${target.name}`, () => {
    let adapter: DatabaseAdapter;
    let teardown: () => Promise<void>;

    before(async () => {
      ({ adapter, teardown } = await target.create());
    });
    after(async () => {
      await adapter.close();
      await teardown();
    });

    it('refuses statements before connect with a lifecycle error', async () => {
      await assert.rejects(adapter.health().then((h) => { if (h.status !== 'unhealthy') throw new Error('expected unhealthy before connect'); throw new LifecycleError('ok'); }), LifecycleError);
    });

    it('connects idempotently (concurrent and repeated calls share one connection)', async () => {
      await Promise.all([adapter.connect(), adapter.connect()]);
      await adapter.connect();
    });

    it('declares its capabilities completely', () => {
      const c = adapter.capabilities;
      for (const key of ['sql', 'transactions', 'savepoints', 'readOnlyTransactions', 'transactionalDdl', 'physicalBackup', 'pointInTimeRecovery', 'replicationControl'] as const) {
        assert.equal(typeof c[key], 'boolean', key);
      }
      assert.ok(['xa', 'one-phase', 'none'].includes(c.twoPhase));
      assert.ok(Array.isArray(c.isolationLevels));
    });

    it('reports health with latency', async () => {
      const health = await adapter.health();
      assert.equal(health.adapterId, adapter.id);
      assert.equal(health.status, 'healthy', health.reasons.join('; '));
      assert.equal(typeof health.latency, 'number');
      assert.ok(health.latency >= 0);
    });

    it('counts queries and failures in metrics', async () => {
      const before = adapter.metrics();
      if (adapter.capabilities.sql) {
        await adapter.query('SELECT 1 AS one');
        await assert.rejects(adapter.query('SELECT * FROM dk_no_such_table'), DatakeepError);
      } else {
        await adapter.command(target.roundTrip!.read('dk:conformance:nothing'));
        await assert.rejects(adapter.command(['DK_NO_SUCH_COMMAND']), DatakeepError);
      }
      const m = adapter.metrics();
      assert.equal(m.queries.total, before.queries.total + 2);
      assert.equal(m.queries.failed, before.queries.failed + 1);
      assert.ok(m.queries.latency.p99 >= m.queries.latency.p50);
      assert.equal(typeof m.connections.active, 'number');
    });

    if (target.roundTrip) {
      it('round-trips a value through command()', async () => {
        const rt = target.roundTrip!;
        await adapter.command(rt.write('dk:conformance:k1', 'v1'));
        const reply = await adapter.command(rt.read('dk:conformance:k1'));
        assert.equal(rt.decode ? rt.decode(reply) : reply, 'v1');
      });
    }

    describe('SQL', { skip: false }, () => {
      const text = () => target.sql?.textType ?? 'text';
      before(async () => {
        if (!adapter.capabilities.sql) return;
        await adapter.connect();
        await adapter.execute(`CREATE TABLE dk_conf (id integer PRIMARY KEY, v ${text()})`);
      });

      it('query returns rows and execute returns rows affected, with ? placeholders', async (t) => {
        if (!adapter.capabilities.sql) return t.skip('not a SQL engine');
        assert.equal(await adapter.execute('INSERT INTO dk_conf (id, v) VALUES (?, ?), (?, ?)', [1, 'a', 2, 'b']), 2);
        const rows = await adapter.query<{ id: number; v: string }>('SELECT id, v FROM dk_conf WHERE id = ?', [2]);
        assert.deepEqual(rows.map((r) => ({ id: Number(r.id), v: r.v })), [{ id: 2, v: 'b' }]);
        assert.equal(await adapter.execute('UPDATE dk_conf SET v = ? WHERE id > ?', ['z', 0]), 2);
        assert.equal(await adapter.execute('DELETE FROM dk_conf WHERE id = ?', [99]), 0);
      });

      it('commits a transaction and rolls back on error', async (t) => {
        if (!adapter.capabilities.transactions || !adapter.capabilities.sql) return t.skip('no SQL transactions');
        await adapter.transaction(async (tx) => {
          await tx.execute('INSERT INTO dk_conf (id, v) VALUES (?, ?)', [10, 'committed']);
        });
        await assert.rejects(
          adapter.transaction(async (tx) => {
            await tx.execute('INSERT INTO dk_conf (id, v) VALUES (?, ?)', [11, 'rolled back']);
            throw new Error('boom');
          }),
          /boom/,
        );
        const ids = (await adapter.query<{ id: number }>('SELECT id FROM dk_conf WHERE id >= 10 ORDER BY id')).map((r) => Number(r.id));
        assert.deepEqual(ids, [10]);
      });

      it('carries the transaction to adapter.query inside the callback', async (t) => {
        if (!adapter.capabilities.transactions || !adapter.capabilities.sql) return t.skip('no SQL transactions');
        await assert.rejects(
          adapter.transaction(async () => {
            await adapter.execute('INSERT INTO dk_conf (id, v) VALUES (?, ?)', [20, 'inside']);
            const seen = await adapter.query('SELECT id FROM dk_conf WHERE id = ?', [20]);
            assert.equal(seen.length, 1);
            throw new Error('undo');
          }),
          /undo/,
        );
        assert.equal((await adapter.query('SELECT id FROM dk_conf WHERE id = ?', [20])).length, 0);
      });

      it('nested transaction() is a savepoint: an inner rollback keeps the outer work', async (t) => {
        if (!adapter.capabilities.savepoints) return t.skip('no savepoints');
        await adapter.transaction(async (tx) => {
          await tx.execute('INSERT INTO dk_conf (id, v) VALUES (?, ?)', [30, 'outer']);
          await assert.rejects(
            tx.transaction(async (inner) => {
              assert.equal(inner.depth, 2);
              await inner.execute('INSERT INTO dk_conf (id, v) VALUES (?, ?)', [31, 'inner']);
              throw new Error('inner fails');
            }),
            /inner fails/,
          );
          await tx.transaction(async (inner) => {
            await inner.execute('INSERT INTO dk_conf (id, v) VALUES (?, ?)', [32, 'inner kept']);
          });
        });
        const ids = (await adapter.query<{ id: number }>('SELECT id FROM dk_conf WHERE id BETWEEN 30 AND 39 ORDER BY id')).map((r) => Number(r.id));
        assert.deepEqual(ids, [30, 32]);
      });

      it('explicit savepoints: create, roll back to, release', async (t) => {
        if (!adapter.capabilities.savepoints) return t.skip('no savepoints');
        await adapter.transaction(async (tx) => {
          await tx.execute('INSERT INTO dk_conf (id, v) VALUES (?, ?)', [40, 'kept']);
          const sp = await tx.savepoint();
          await tx.execute('INSERT INTO dk_conf (id, v) VALUES (?, ?)', [41, 'undone']);
          await tx.rollbackTo(sp);
          await tx.release(sp);
          const named = await tx.savepoint('my_point');
          assert.equal(named, 'my_point');
          await tx.release(named);
        });
        const ids = (await adapter.query<{ id: number }>('SELECT id FROM dk_conf WHERE id BETWEEN 40 AND 49 ORDER BY id')).map((r) => Number(r.id));
        assert.deepEqual(ids, [40]);
      });

      it('a failed statement that is not rolled back to a savepoint prevents the commit', async (t) => {
        if (!adapter.capabilities.transactions || !adapter.capabilities.sql) return t.skip('no SQL transactions');
        await assert.rejects(
          adapter.transaction(async (tx) => {
            await tx.execute('INSERT INTO dk_conf (id, v) VALUES (?, ?)', [50, 'x']);
            await tx.execute('INSERT INTO dk_conf (id, v) VALUES (?, ?)', [50, 'duplicate']).catch(() => undefined);
          }),
          TransactionError,
        );
        assert.equal((await adapter.query('SELECT id FROM dk_conf WHERE id = ?', [50])).length, 0);
      });

      it('runs every declared isolation level and refuses the others with a capability error', async (t) => {
        if (!adapter.capabilities.transactions || !adapter.capabilities.sql) return t.skip('no SQL transactions');
        for (const level of ALL_LEVELS) {
          const run = adapter.transaction(async (tx) => tx.query('SELECT 1 AS one'), { isolationLevel: level });
          if (adapter.capabilities.isolationLevels.includes(level)) await run;
          else await assert.rejects(run, CapabilityError);
        }
      });

      it('read-only transactions refuse writes', async (t) => {
        if (!adapter.capabilities.readOnlyTransactions) return t.skip('no read-only transactions');
        await assert.rejects(
          adapter.transaction(async (tx) => tx.execute('INSERT INTO dk_conf (id, v) VALUES (?, ?)', [60, 'ro']), { readOnly: true }),
          DatakeepError,
        );
      });

      it('script() runs several statements as written, inside a transaction too', async (t) => {
        if (!isSqlAdapter(adapter)) return t.skip('not a SQL adapter');
        const sql = adapter;
        await sql.script(`CREATE TABLE dk_script (a integer); INSERT INTO dk_script VALUES (1); INSERT INTO dk_script VALUES (2)`);
        await assert.rejects(
          sql.transaction(async (tx) => {
            await tx.script('INSERT INTO dk_script VALUES (3); INSERT INTO dk_script VALUES (4)');
            throw new Error('undo script');
          }),
          /undo script/,
        );
        const rows = await sql.query<{ a: number }>('SELECT a FROM dk_script ORDER BY a');
        assert.deepEqual(rows.map((r) => Number(r.a)), [1, 2]);
      });

      it('withSession() keeps one connection for the callback', async (t) => {
        if (!isSqlAdapter(adapter)) return t.skip('not a SQL adapter');
        const sql = adapter;
        await sql.withSession(async (session) => {
          await session.execute('CREATE TEMPORARY TABLE dk_session_tmp (a integer)');
          await session.execute('INSERT INTO dk_session_tmp VALUES (?)', [7]);
          const rows = await session.query<{ a: number }>('SELECT a FROM dk_session_tmp');
          assert.equal(Number(rows[0]!.a), 7);
        });
      });

      it('a statement after the transaction ended is refused', async (t) => {
        if (!adapter.capabilities.transactions || !adapter.capabilities.sql) return t.skip('no SQL transactions');
        let leaked: { query(sql: string): Promise<unknown> } | undefined;
        await adapter.transaction(async (tx) => {
          leaked = tx;
        });
        await assert.rejects(leaked!.query('SELECT 1'), TransactionError);
      });
    });

    it('closes idempotently and refuses statements after close', async () => {
      await Promise.all([adapter.close(), adapter.close()]);
      const attempt = adapter.capabilities.sql ? adapter.query('SELECT 1') : adapter.command(target.roundTrip!.read('x'));
      await assert.rejects(attempt, LifecycleError);
    });
  });
}
