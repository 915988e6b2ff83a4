import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../support/postgres-server.js';
import type { Connection } from 'mariadb';
import { ConfigurationError, DataLifecycleError, DataManager } from '../../src/index.js';
import { bindPolicy } from '../../src/lifecycle/run-lifecycle-policy.js';
import { resolveLifecycleConfig } from '../../src/config/lifecycle-config.js';
import { mariadbLifecycle } from '../../src/engines/mariadb/lifecycle/mariadb-lifecycle.js';
import { createMariadbTestDatabase, type MariadbTestDatabase } from '../support/mariadb-server.js';

const TABLE_SQL = (name: string) => `CREATE TABLE ${name} (
  id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, created_at DATETIME(6) NOT NULL, amount DECIMAL(40,15), big BIGINT, data BLOB,
  doc JSON, note TEXT, f DOUBLE, fl FLOAT, ts TIMESTAMP(6) NULL, b BIT(5), twice BIGINT AS (big * 2) VIRTUAL
) DEFAULT CHARSET utf8mb4`;

/** Every column the tests compare (the generated one included: it must come out the same). */
const COLUMNS = ['id', 'created_at', 'amount', 'big', 'data', 'doc', 'note', 'f', 'fl', 'ts', 'b', 'twice'];

/**
 * Rows spread over `days` days back from now (UTC), with values JavaScript would lose: microseconds, 40-digit
 * decimals, integers beyond 2^53, bytes, JSON, text with quotes, newlines, backslashes and 4-byte characters.
 */
async function fill(conn: Connection, table: string, rows: number, days: number): Promise<void> {
  await conn.query(`
    INSERT INTO ${table} (created_at, amount, big, data, doc, note, f, fl, ts, b)
    SELECT UTC_TIMESTAMP(6) - INTERVAL FLOOR(seq * ${days} * 86400 / ${rows}) SECOND - INTERVAL 123 MICROSECOND,
           seq * 1234567890.123456789012345, 9007199254740993 + seq, UNHEX(MD5(seq)),
           JSON_OBJECT('g', seq, 'nested', JSON_ARRAY(seq, 'x')), CONCAT('line "one"\\n', seq, ' ünï 😀 \\\\ ''q'''),
           seq / 3e0, seq / 7e0, UTC_TIMESTAMP(6) - INTERVAL seq MINUTE, seq % 32
      FROM seq_1_to_${rows}`);
}

/** Rows of `a` and `b` (joined on id) that differ in any column, compared both as values and as the server's text. */
async function differences(conn: Connection, a: string, b: string): Promise<string[]> {
  const out: string[] = [];
  for (const c of COLUMNS) {
    const [row] = await conn.query<{ n: bigint }[]>(`SELECT COUNT(*) AS n FROM ${a} x JOIN ${b} y USING (id) WHERE NOT (x.${c} <=> y.${c}) OR NOT (CAST(x.${c} AS CHAR) <=> CAST(y.${c} AS CHAR)) OR NOT (HEX(x.${c}) <=> HEX(y.${c}))`);
    if (Number(row!.n) !== 0) out.push(`${c}: ${row!.n} rows differ`);
  }
  return out;
}

async function ids(conn: Connection, table: string): Promise<string[]> {
  return (await conn.query<{ id: bigint }[]>(`SELECT id FROM ${table} ORDER BY id`)).map((r) => String(r.id));
}

describe('data lifecycle on MariaDB', () => {
  let db: MariadbTestDatabase;
  let conn: Connection;
  let dir: string;
  let dm: DataManager;
  let stateDb: TestDatabase;
  const passphrase = process.env.DATAKEEP_REPO_PASSPHRASE;

  before(async () => {
    process.env.DATAKEEP_REPO_PASSPHRASE = 'lifecycle-test-passphrase';
    db = await createMariadbTestDatabase('dk_lc_maria');
    conn = await db.admin();
    await conn.query(`USE \`${db.name}\``);
    await conn.query(`SET time_zone = '+00:00'`);
    dir = mkdtempSync(join(tmpdir(), 'datakeep-lc-maria-'));
    // The state store on the local PostgreSQL: the embedded one costs seconds of CPU to open.
    stateDb = await createTestDatabase('dk_lc_state');
    dm = new DataManager({ config: { databases: [{ ...db.config, id: 'maria' }], state: { url: stateDb.url }, logLevel: 'error' } });
    await dm.initialize();
  });

  after(async () => {
    await dm?.close();
    await stateDb?.drop();
    await conn?.end();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
    if (passphrase === undefined) delete process.env.DATAKEEP_REPO_PASSPHRASE;
    else process.env.DATAKEEP_REPO_PASSPHRASE = passphrase;
  });

  it('runs the seed example: audit_logs deleted after 90 days, old_transactions archived after 365, and the archive restores exactly', async () => {
    await conn.query(TABLE_SQL('audit_logs'));
    await conn.query(TABLE_SQL('old_transactions'));
    await fill(conn, 'audit_logs', 5000, 200);
    await fill(conn, 'old_transactions', 3000, 730);
    const keptAudit = (await conn.query<{ id: bigint }[]>('SELECT id FROM audit_logs WHERE created_at >= UTC_TIMESTAMP(6) - INTERVAL 90 DAY ORDER BY id')).map((r) => String(r.id));
    await conn.query('CREATE TABLE expected_tx LIKE old_transactions');
    await conn.query('INSERT INTO expected_tx (id, created_at, amount, big, data, doc, note, f, fl, ts, b) SELECT id, created_at, amount, big, data, doc, note, f, fl, ts, b FROM old_transactions WHERE created_at < UTC_TIMESTAMP(6) - INTERVAL 365 DAY');
    const expiredTx = await ids(conn, 'expected_tx');
    const keptTx = (await conn.query<{ id: bigint }[]>('SELECT id FROM old_transactions WHERE created_at >= UTC_TIMESTAMP(6) - INTERVAL 365 DAY ORDER BY id')).map((r) => String(r.id));
    assert.ok(expiredTx.length > 1000 && keptTx.length > 1000);

    const setup = await dm.setupLifecycleManagement({
      retention: [{ table: 'audit_logs', retentionDays: 90, action: 'delete' }],
      archival: { enabled: true, destination: join(dir, 'archives'), rules: [{ table: 'old_transactions', ageThreshold: 365, priority: 1 }] },
      cleanup: { enabled: true, schedule: '0 3 * * 0', batchSize: 1000 },
    });
    assert.deepEqual(setup.policies.map((p) => [p.name, p.schedule]), [['archival:old_transactions', '0 3 * * 0'], ['retention:audit_logs', '0 3 * * 0']]);

    const plan = await dm.lifecycle.plan();
    assert.equal(plan.find((p) => p.policy === 'archival:old_transactions')!.rows, expiredTx.length);
    assert.equal(plan.find((p) => p.policy === 'retention:audit_logs')!.rows, 5000 - keptAudit.length);
    assert.deepEqual(plan.find((p) => p.policy === 'archival:old_transactions')!.firstKey, [expiredTx[0]]);

    const results = await dm.lifecycle.run();
    const archival = results.find((r) => r.policy === 'archival:old_transactions')!;
    const retention = results.find((r) => r.policy === 'retention:audit_logs')!;
    assert.equal(archival.outcome, 'done', archival.error);
    assert.equal(retention.outcome, 'done', retention.error);
    assert.equal(archival.rowsArchived, expiredTx.length);
    assert.equal(archival.rowsDeleted, expiredTx.length);
    assert.equal(archival.archives.length, Math.ceil(expiredTx.length / 1000));
    assert.equal(retention.rowsDeleted, 5000 - keptAudit.length);
    assert.deepEqual(await ids(conn, 'audit_logs'), keptAudit);
    assert.deepEqual(await ids(conn, 'old_transactions'), keptTx);

    // Back into a copy of the table, exactly: every column of every row as it was, compared by the server.
    await conn.query('CREATE TABLE old_transactions_back LIKE old_transactions');
    const archives = await dm.lifecycle.archives.list();
    assert.equal(archives.length, archival.archives.length);
    for (const archive of archives) await dm.lifecycle.archives.restore(archive.archiveId, { into: 'old_transactions_back' });
    assert.deepEqual(await ids(conn, 'old_transactions_back'), expiredTx);
    assert.deepEqual(await differences(conn, 'expected_tx', 'old_transactions_back'), []);

    // Into the original table too; a second restore of the same archive conflicts and writes nothing.
    await dm.lifecycle.archives.restore(archives[0]!.archiveId);
    const conflict = await dm.lifecycle.archives.restore(archives[0]!.archiveId).catch((e: unknown) => e);
    assert.ok(conflict instanceof DataLifecycleError && conflict.reason === 'restore-conflict', String(conflict));
    assert.equal((await ids(conn, 'old_transactions')).length, keptTx.length + archives[0]!.rows);
  });

  it('round-trips edge values column by column, with a composite binary key, in small batches', async () => {
    await conn.query(`CREATE TABLE edge (
      tenant VARBINARY(8) NOT NULL, seq BIGINT UNSIGNED NOT NULL, created_at DATETIME(6) NOT NULL, amount DECIMAL(40,15), big BIGINT,
      data LONGBLOB, bin BINARY(4), doc JSON, note TEXT, f DOUBLE, fl FLOAT, ts TIMESTAMP(6) NULL, b BIT(5), e ENUM('a','b'), s SET('x','y'),
      y YEAR, tm TIME(6), d DATE, PRIMARY KEY (tenant, seq)) DEFAULT CHARSET utf8mb4`);
    await conn.query(`INSERT INTO edge VALUES
      (0x00, 18446744073709551615, '2000-01-01 00:00:00.000001', 123456789012345678901234.123456789012345, 9223372036854775807, 0x00FF80FE, 0x00000000, '{"a": [1, 2.50, "x"],  "b":null}', 'q''"\\\\\\n\\t😀', 0.30000000000000004, 16777216, '2021-11-07 06:30:00.5', b'11111', 'b', 'x,y', 2155, '-838:59:59.000001', '1000-01-01'),
      (0x00, 9007199254740993, '2000-01-01 00:00:00', -0.000000000000001, -9223372036854775808, '', 0x01020304, '[]', '', -1.7976931348623157e308, -3.4028234e38, '1970-01-01 00:00:01', b'0', 'a', '', 1901, '838:59:59', '9999-12-31'),
      (0xFF00, 1, '2000-01-01 00:00:00', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
      (0xFF00, 2, '2000-01-01 00:00:00', 0, 0, REPEAT(0x00FF, 40000), 0x7f7f7f7f, '{"deep": {"x": "é\\\\u00e9"}}', REPEAT('é', 10000), 5e-324, 1.17549435e-38, '2038-01-19 03:14:07.999999', b'10000', 'a', 'y', 2000, '00:00:00', '2024-02-29'),
      (0xFFFF, 3, '2000-01-01 00:00:00', 1, 1, 0x00, 0xFFFFFFFF, '"str"', 'tab\\there', 1e300, 1.5, NULL, b'00001', NULL, 'x', NULL, NULL, NULL)`);
    await conn.query('CREATE TABLE edge_expected LIKE edge');
    await conn.query('INSERT INTO edge_expected SELECT * FROM edge');
    await dm.setupLifecycleManagement({
      retention: [{ table: 'edge', retentionDays: 30, action: 'archive', batchSize: 2, allowAll: true, pauseMs: 0 }],
      archival: { destination: join(dir, 'edge-archives') },
    });
    const [result] = await dm.lifecycle.run();
    assert.equal(result!.outcome, 'done', result!.error);
    assert.equal(result!.rowsArchived, 5);
    assert.equal(result!.batches, 3);
    assert.equal((await conn.query<{ n: bigint }[]>('SELECT COUNT(*) AS n FROM edge'))[0]!.n, 0n);
    for (const archive of await dm.lifecycle.archives.list({ database: 'maria' })) {
      if (archive.target.endsWith('`edge`')) await dm.lifecycle.archives.restore(archive.archiveId);
    }
    const columns = (await conn.query<{ c: string }[]>(`SELECT COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'edge'`)).map((r) => r.c);
    assert.equal((await conn.query<{ n: bigint }[]>('SELECT COUNT(*) AS n FROM edge x JOIN edge_expected y USING (tenant, seq)'))[0]!.n, 5n);
    for (const c of columns) {
      const [row] = await conn.query<{ n: bigint }[]>(`SELECT COUNT(*) AS n FROM edge x JOIN edge_expected y USING (tenant, seq) WHERE NOT (x.${c} <=> y.${c}) OR NOT (HEX(x.${c}) <=> HEX(y.${c})) OR NOT (CAST(x.${c} AS CHAR) <=> CAST(y.${c} AS CHAR))`);
      assert.equal(row!.n, 0n, `column ${c} did not round-trip`);
    }
  });

  it('refuses bad policies before anything runs, naming the field', async () => {
    await conn.query(TABLE_SQL('events'));
    await conn.query('CREATE TABLE keyless (created_at DATETIME)');
    await fill(conn, 'events', 100, 10);
    const bad = async (config: Parameters<DataManager['setupLifecycleManagement']>[0]) => dm.setupLifecycleManagement(config).then(() => undefined, (e: unknown) => e);
    const reason = (e: unknown) => (e instanceof DataLifecycleError ? e.reason : String(e));

    const unknownTable = await bad({ retention: [{ table: 'evnets', retentionDays: 5 }] });
    assert.equal(reason(unknownTable), 'unknown-target');
    assert.match((unknownTable as Error).message, /"events"/);
    const unknownColumn = await bad({ retention: [{ table: 'events', retentionDays: 5, timestampColumn: 'made_at' }] });
    assert.equal(reason(unknownColumn), 'unknown-column');
    assert.match((unknownColumn as Error).message, /created_at/);
    assert.equal(reason(await bad({ retention: [{ table: 'events', retentionDays: 5, timestampColumn: 'note' }] })), 'unknown-column');
    assert.equal(reason(await bad({ retention: [{ table: 'keyless', retentionDays: 5 }] })), 'no-key');
    for (const where of ['nonsense >', 'no_such_column = 1', '1=1; DROP TABLE events', '1=1 -- ', 'id > 0 /* x */', '1=1) OR (1=1', 'id = ?']) {
      const error = await bad({ retention: [{ table: 'events', where }] });
      assert.equal(reason(error), 'bad-condition', `where ${JSON.stringify(where)}: ${String(error)}`);
    }
    // Strings may hold anything a condition may not.
    await dm.setupLifecycleManagement({ retention: [{ table: 'events', where: "note = 'a; -- b /* c ? ) ('" }] });
    const zero = await bad({ retention: [{ table: 'events', retentionDays: 0 }] });
    assert.ok(zero instanceof ConfigurationError && zero.field === 'setupLifecycleManagement(config).retention[0].retentionDays', String(zero));
    assert.equal((await conn.query<{ n: bigint }[]>('SELECT COUNT(*) AS n FROM events'))[0]!.n, 100n);
  });

  it('refuses a policy that would empty its table unless allowAll, and then empties it', async () => {
    await conn.query(TABLE_SQL('all_old'));
    await fill(conn, 'all_old', 300, 10);
    await conn.query('UPDATE all_old SET created_at = created_at - INTERVAL 30 DAY');
    await dm.setupLifecycleManagement({ retention: [{ table: 'all_old', retentionDays: 20 }] });
    const [plan] = await dm.lifecycle.plan();
    assert.match(plan!.refusal ?? '', /allowAll/);
    await assert.rejects(dm.lifecycle.run(), (e: unknown) => e instanceof DataLifecycleError && e.reason === 'would-remove-all');
    assert.equal((await conn.query<{ n: bigint }[]>('SELECT COUNT(*) AS n FROM all_old'))[0]!.n, 300n);
    await dm.setupLifecycleManagement({ retention: [{ table: 'all_old', retentionDays: 20, allowAll: true, batchSize: 50, pauseMs: 0 }] });
    const [result] = await dm.lifecycle.run();
    assert.equal(result!.rowsDeleted, 300);
    assert.equal(result!.batches, 6);
  });

  it('gives up a batch whose rows another transaction holds after lockTimeout (whole seconds) as contended, and keeps changed rows on an exact delete', async () => {
    await conn.query(TABLE_SQL('locked'));
    await fill(conn, 'locked', 20, 100);
    const adapter = dm.database('maria');
    const [policy] = resolveLifecycleConfig({ retention: [{ table: 'locked', retentionDays: 1, lockTimeout: 300 }] }).policies;
    const bound = bindPolicy(policy!, new Date());
    const inspection = await mariadbLifecycle.inspect(adapter, bound);
    const batch = await mariadbLifecycle.nextBatch(adapter, bound, inspection, undefined, 10);
    assert.equal(batch.rows.length, 10);
    assert.deepEqual(batch.rows.map((r) => r.key), Array.from({ length: 10 }, (_, i) => [String(i + 1)]));

    const holder = await db.admin();
    try {
      await holder.query(`USE \`${db.name}\``);
      await holder.query('START TRANSACTION');
      await holder.query('SELECT id FROM locked WHERE id = 5 FOR UPDATE');
      const started = performance.now();
      const error = await mariadbLifecycle.remove(adapter, bound, inspection, batch.rows, { lockTimeoutMs: 300, exact: false }).catch((e: unknown) => e);
      const waited = performance.now() - started;
      assert.ok(error instanceof DataLifecycleError && error.reason === 'contended', String(error));
      assert.ok(waited >= 900 && waited < 5000, `waited ${Math.round(waited)} ms for a 1 s lock wait timeout`);
      await holder.query('ROLLBACK');
    } finally {
      await holder.end();
    }
    assert.equal((await conn.query<{ n: bigint }[]>('SELECT COUNT(*) AS n FROM locked'))[0]!.n, 20n, 'a contended batch removes nothing');

    // Exact: a row changed since it was read stays; the others go.
    await conn.query(`UPDATE locked SET note = 'changed' WHERE id = 7`);
    const removed = await mariadbLifecycle.remove(adapter, bound, inspection, batch.rows, { lockTimeoutMs: 1000, exact: true });
    assert.equal(removed.removed, 9);
    assert.deepEqual((await conn.query<{ id: bigint }[]>('SELECT id FROM locked WHERE id BETWEEN 1 AND 10')).map((r) => String(r.id)), ['7']);
    assert.deepEqual(await mariadbLifecycle.fetch(adapter, inspection, [['7'], ['8']]).then((rows) => rows.map((r) => r.key)), [['7']]);
    assert.deepEqual(await mariadbLifecycle.pressure!(adapter), { replicaLagSeconds: undefined });
    // The pooled sessions the driver used went back with the server's own time zone.
    assert.deepEqual(await adapter.query<{ tz: string }>('SELECT @@session.time_zone AS tz'), [{ tz: 'SYSTEM' }]);
  });
});
