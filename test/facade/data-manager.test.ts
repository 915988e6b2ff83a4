import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { DataManager, LifecycleError, TransactionError, UnknownAdapterError, UsageError } from '../../src/index.js';
import type { Logger } from '../../src/index.js';
import { createTestDatabase, PG_ADMIN_URL, type TestDatabase } from '../support/postgres-server.js';

describe('DataManager on PostgreSQL', () => {
  let db: TestDatabase;
  let dm: DataManager;

  before(async () => {
    db = await createTestDatabase();
    dm = new DataManager();
    await dm.initialize([{ ...db.config, id: 'main', poolSize: 10 }]);
    await dm.execute('CREATE TABLE items (id serial PRIMARY KEY, doc jsonb, n integer)');
  });
  after(async () => {
    await dm.close();
    await db.drop();
  });

  it('routes query/execute to the default SQL database and queryDatabase by id', async () => {
    assert.deepEqual(dm.databaseIds, ['main']);
    assert.equal(await dm.execute('INSERT INTO items (doc, n) VALUES (?, ?)', [{ a: 1 }, 1]), 1);
    const viaId = (await dm.queryDatabase('main', 'SELECT n FROM items')) as { n: number }[];
    assert.equal(viaId[0]!.n, 1);
    await assert.rejects(dm.queryDatabase('nope', 'SELECT 1'), (e: unknown) => e instanceof UnknownAdapterError && /known ids: main/.test(e.message));
  });

  it('writes the jsonb operators as ?? and keeps ?::casts working', async () => {
    const rows = await dm.query<{ has: boolean; any: boolean; n: number }>(
      "SELECT doc ?? 'a' AS has, doc ??| array['x','a'] AS any, ?::int + 1 AS n FROM items WHERE n = ?",
      [41, 1],
    );
    assert.deepEqual(rows[0], { has: true, any: true, n: 42 });
    // $n statements pass through, with ? as the operator.
    const raw = await dm.query<{ has: boolean }>("SELECT doc ? 'a' AS has FROM items WHERE n = $1", [1]);
    assert.equal(raw[0]!.has, true);
    await assert.rejects(dm.query('SELECT ? AS a, ? AS b', [1]), (e: unknown) => e instanceof UsageError && /2 \? placeholder\(s\) but 1/.test(e.message));
  });

  it('dm.query inside dm.transaction runs on the transaction connection', async () => {
    await dm.transaction(async (tx) => {
      const [{ pid: outer }] = (await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')) as [{ pid: number }];
      const [{ pid: inner }] = (await dm.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')) as [{ pid: number }];
      assert.equal(inner, outer);
    });
  });

  it('50 concurrent transactions never share a connection', async () => {
    const open = new Set<number>();
    let maxOpen = 0;
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        dm.transaction(async (tx) => {
          const [{ pid }] = (await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')) as [{ pid: number }];
          assert.ok(!open.has(pid), `connection ${pid} used by two open transactions`);
          open.add(pid);
          maxOpen = Math.max(maxOpen, open.size);
          await tx.execute('INSERT INTO items (n) VALUES (?)', [1000 + i]);
          await tx.query('SELECT pg_sleep(0.01)');
          open.delete(pid);
        }),
      ),
    );
    assert.ok(maxOpen > 1 && maxOpen <= 10, `max concurrently open transactions ${maxOpen}`);
    const [{ c }] = (await dm.query<{ c: number }>('SELECT count(*)::int AS c FROM items WHERE n >= 1000')) as [{ c: number }];
    assert.equal(c, 50);
  });

  it('re-runs a serializable transaction that lost a conflict, and the final state is right', async () => {
    await dm.execute('CREATE TABLE seq (n integer NOT NULL)');
    let bothRead!: () => void;
    const barrier = new Promise<void>((resolve) => (bothRead = resolve));
    let reads = 0;
    let attempts = 0;
    const retriedBefore = (await dm.getMetrics()).get('main')!.transactions.retried;
    const next = () =>
      dm.transaction(
        async (tx) => {
          attempts += 1;
          const [{ m }] = (await tx.query<{ m: number }>('SELECT coalesce(max(n), 0) AS m FROM seq')) as [{ m: number }];
          reads += 1;
          if (reads === 2) bothRead();
          if (reads <= 2) await barrier; // first attempts: both read before either writes
          await tx.execute('INSERT INTO seq (n) VALUES (?)', [m + 1]);
        },
        { isolationLevel: 'serializable' },
      );
    await Promise.all([next(), next()]);
    const values = (await dm.query<{ n: number }>('SELECT n FROM seq ORDER BY n')).map((r) => r.n);
    assert.deepEqual(values, [1, 2]);
    assert.equal(attempts, 3);
    assert.equal((await dm.getMetrics()).get('main')!.transactions.retried, retriedBefore + 1);
  });

  it('gives up after maxAttempts with a TransactionError that keeps the cause', async () => {
    let runs = 0;
    await assert.rejects(
      dm.transaction(async () => {
        runs += 1;
        await dm.query("DO $$ BEGIN RAISE EXCEPTION 'forced' USING ERRCODE = '40001'; END $$");
      }, { maxAttempts: 2 }),
      (e: unknown) => e instanceof TransactionError && e.attempts === 2 && (e.cause as { sqlState?: string }).sqlState === '40001',
    );
    assert.equal(runs, 2);
  });
});

describe('DataManager lifecycle and safety', () => {
  it('refuses calls before initialize and after close; close is idempotent', async () => {
    const dm = new DataManager();
    await assert.rejects(dm.query('SELECT 1'), LifecycleError);
    await dm.initialize([{ url: PG_ADMIN_URL }]);
    await Promise.all([dm.close(), dm.close()]);
    await assert.rejects(dm.query('SELECT 1'), LifecycleError);
    await assert.rejects(dm.initialize([{ url: PG_ADMIN_URL }]), LifecycleError);
  });

  it('a failed initialize closes what it opened and never logs the password', async () => {
    const password = 'pw-that-must-not-leak-123';
    const lines: string[] = [];
    const logger: Logger = { log: (level, message, fields) => lines.push(JSON.stringify({ level, message, fields })) };
    const dm = new DataManager({ logger });
    const app = `dk_fail_${process.pid}`;
    const good = { url: PG_ADMIN_URL, id: 'good', applicationName: app };
    const bad = { type: 'postgresql' as const, host: '127.0.0.1', port: 1, database: 'x', username: 'u', password, retryAttempts: 2, id: 'bad' };
    const error = await dm.initialize([good, bad]).then(() => undefined, (e: unknown) => e as Error);
    assert.ok(error, 'initialize should fail');
    assert.ok(!error.message.includes(password));
    assert.ok(!JSON.stringify(error).includes(password));
    assert.ok(lines.length >= 1, 'retries are logged');
    assert.ok(!lines.join('\n').includes(password));
    const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
    await admin.connect();
    const { rows } = await admin.query('SELECT count(*)::int AS c FROM pg_stat_activity WHERE application_name = $1', [app]);
    await admin.end();
    assert.equal(rows[0].c, 0, 'the good database was closed again');
  });
});
