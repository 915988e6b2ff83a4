import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { ConfigurationError, DataLifecycleError, DataManager } from '../../src/index.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-server.js';


/**
 * Rows spread over `days` days back from now, one every `step` ms of age, with values that JavaScript would lose:
 * microseconds, 30-digit numerics, 64-bit integers, bytes, jsonb, text with quotes and newlines.
 */
async function fill(client: pg.Client, table: string, rows: number, days: number): Promise<void> {
  await client.query(`
    INSERT INTO ${table} (created_at, amount, big, data, doc, note)
    SELECT now() - (g * ($2::float8 / $1)) * interval '1 day' - interval '123 microseconds',
           (g::numeric * 1234567890.123456789012345), 9007199254740993 + g, decode(md5(g::text), 'hex'),
           jsonb_build_object('g', g, 'nested', jsonb_build_array(g, 'x')), E'line "one"\\n' || g
      FROM generate_series(1, $1) g`, [rows, days]);
}

const TABLE_SQL = (name: string) => `CREATE TABLE ${name} (
  id bigserial PRIMARY KEY, created_at timestamptz(6) NOT NULL, amount numeric(40, 15), big bigint, data bytea, doc jsonb, note text)`;

describe('data lifecycle on PostgreSQL', () => {
  let db: TestDatabase;
  let client: pg.Client;
  let dir: string;
  let dm: DataManager;
  const passphrase = process.env.DATAKEEP_REPO_PASSPHRASE;

  before(async () => {
    process.env.DATAKEEP_REPO_PASSPHRASE = 'lifecycle-test-passphrase';
    db = await createTestDatabase('dk_lifecycle');
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    dir = mkdtempSync(join(tmpdir(), 'datakeep-lifecycle-'));
    dm = new DataManager({ config: { databases: [db.config], state: { url: db.url }, logLevel: 'error' } });
    await dm.initialize();
  });

  after(async () => {
    await dm?.close();
    await client?.end();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
    if (passphrase === undefined) delete process.env.DATAKEEP_REPO_PASSPHRASE;
    else process.env.DATAKEEP_REPO_PASSPHRASE = passphrase;
  });

  it('runs the seed example: audit_logs deleted after 90 days, old_transactions archived after 365, and the archive restores exactly', async () => {
    await client.query(TABLE_SQL('audit_logs'));
    await client.query(TABLE_SQL('old_transactions'));
    await fill(client, 'audit_logs', 5000, 200);
    await fill(client, 'old_transactions', 3000, 730);
    const expectedAudit = await client.query<{ id: string }>(`SELECT id FROM audit_logs WHERE created_at >= now() - interval '90 days' ORDER BY id`);
    const expiredTx = await client.query<{ id: string; r: string }>(`SELECT id, to_json(t)::text AS r FROM old_transactions t WHERE created_at < now() - interval '365 days' ORDER BY id`);
    const keptTx = await client.query<{ id: string }>(`SELECT id FROM old_transactions WHERE created_at >= now() - interval '365 days' ORDER BY id`);
    assert.ok(expiredTx.rows.length > 1000 && keptTx.rows.length > 1000);

    const setup = await dm.setupLifecycleManagement({
      retention: [{ table: 'audit_logs', retentionDays: 90, action: 'delete' }],
      archival: { enabled: true, destination: join(dir, 'archives'), rules: [{ table: 'old_transactions', ageThreshold: 365, priority: 1 }] },
      cleanup: { enabled: true, schedule: '0 3 * * 0', batchSize: 1000 },
    });
    assert.deepEqual(setup.policies.map((p) => [p.name, p.schedule]), [['archival:old_transactions', '0 3 * * 0'], ['retention:audit_logs', '0 3 * * 0']]);
    assert.ok(setup.policies.every((p) => p.nextRun instanceof Date && p.nextRun.getUTCDay() === 0));

    const plan = await dm.lifecycle.plan();
    assert.equal(plan.find((p) => p.policy === 'archival:old_transactions')!.rows, expiredTx.rows.length);
    assert.equal(plan.find((p) => p.policy === 'retention:audit_logs')!.rows, 5000 - expectedAudit.rows.length);

    const dry = await dm.lifecycle.run({ dryRun: true });
    assert.ok(dry.every((r) => r.dryRun && r.rowsDeleted === 0));
    assert.equal((await client.query('SELECT count(*)::int AS n FROM audit_logs')).rows[0].n, 5000);

    const results = await dm.lifecycle.run();
    const archival = results.find((r) => r.policy === 'archival:old_transactions')!;
    const retention = results.find((r) => r.policy === 'retention:audit_logs')!;
    assert.equal(archival.outcome, 'done', archival.error);
    assert.equal(retention.outcome, 'done', retention.error);
    assert.equal(archival.rowsArchived, expiredTx.rows.length);
    assert.equal(archival.rowsDeleted, expiredTx.rows.length);
    assert.equal(archival.archives.length, Math.ceil(expiredTx.rows.length / 1000));
    assert.equal(retention.rowsDeleted, 5000 - expectedAudit.rows.length);
    assert.deepEqual((await client.query<{ id: string }>('SELECT id FROM audit_logs ORDER BY id')).rows, expectedAudit.rows);
    assert.deepEqual((await client.query<{ id: string }>('SELECT id FROM old_transactions ORDER BY id')).rows, keptTx.rows);

    const history = await dm.lifecycle.history();
    assert.deepEqual(history.map((h) => h.status), ['succeeded', 'succeeded']);
    assert.equal(history.find((h) => h.job === 'lifecycle:retention:audit_logs')!.details.rowsDeleted, retention.rowsDeleted);

    // Back into a copy of the table, exactly: every archived record is the row as it was, microseconds and all.
    await client.query('CREATE TABLE old_transactions_back (LIKE old_transactions INCLUDING ALL)');
    const archives = await dm.lifecycle.archives.list();
    assert.equal(archives.length, archival.archives.length);
    for (const archive of archives) await dm.lifecycle.archives.restore(archive.archiveId, { into: 'old_transactions_back' });
    const back = await client.query<{ id: string; r: string }>('SELECT id, to_json(t)::text AS r FROM old_transactions_back t ORDER BY id');
    assert.deepEqual(back.rows, expiredTx.rows);

    // Into the original table too; a second restore of the same archive conflicts and writes nothing.
    await dm.lifecycle.archives.restore(archives[0]!.archiveId);
    const conflict = await dm.lifecycle.archives.restore(archives[0]!.archiveId).catch((e: unknown) => e);
    assert.ok(conflict instanceof DataLifecycleError && conflict.reason === 'restore-conflict', String(conflict));
    assert.equal((await client.query('SELECT count(*)::int AS n FROM old_transactions')).rows[0].n, keptTx.rows.length + archives[0]!.rows);
  });

  it('refuses bad policies before anything runs, naming the field', async () => {
    await client.query(TABLE_SQL('events'));
    await fill(client, 'events', 100, 10);
    const bad = async (config: Parameters<DataManager['setupLifecycleManagement']>[0]) => dm.setupLifecycleManagement(config).then(() => undefined, (e: unknown) => e);

    const unknownTable = await bad({ retention: [{ table: 'evnets', retentionDays: 5 }] });
    assert.ok(unknownTable instanceof DataLifecycleError && unknownTable.reason === 'unknown-target', String(unknownTable));
    assert.match((unknownTable as Error).message, /events/);
    const unknownColumn = await bad({ retention: [{ table: 'events', retentionDays: 5, timestampColumn: 'made_at' }] });
    assert.ok(unknownColumn instanceof DataLifecycleError && unknownColumn.reason === 'unknown-column' && /created_at/.test(unknownColumn.message), String(unknownColumn));
    const notATime = await bad({ retention: [{ table: 'events', retentionDays: 5, timestampColumn: 'note' }] });
    assert.ok(notATime instanceof DataLifecycleError && notATime.reason === 'unknown-column', String(notATime));
    const badCondition = await bad({ retention: [{ table: 'events', where: 'nonsense >' }] });
    assert.ok(badCondition instanceof DataLifecycleError && badCondition.reason === 'bad-condition', String(badCondition));
    const smuggled = await bad({ retention: [{ table: 'events', where: 'true; DROP TABLE events' }] });
    assert.ok(smuggled instanceof DataLifecycleError && smuggled.reason === 'bad-condition', String(smuggled));
    const zero = await bad({ retention: [{ table: 'events', retentionDays: 0 }] });
    assert.ok(zero instanceof ConfigurationError && zero.field === 'setupLifecycleManagement(config).retention[0].retentionDays', String(zero));
    const noDestination = await bad({ retention: [{ table: 'events', retentionDays: 5, action: 'archive' }] });
    assert.ok(noDestination instanceof ConfigurationError && noDestination.field.endsWith('retention[0].action'), String(noDestination));
    const typo = await bad({ retention: [{ table: 'events', retentionDay: 5 } as never] });
    assert.ok(typo instanceof ConfigurationError && typo.field.endsWith('retention[0].retentionDay'), String(typo));
    const badZone = await bad({ retention: [{ table: 'events', retentionDays: 5, timeZone: 'Mars/Olympus' }] });
    assert.ok(badZone instanceof ConfigurationError && badZone.field.endsWith('retention[0].timeZone'), String(badZone));
    assert.equal((await client.query('SELECT count(*)::int AS n FROM events')).rows[0].n, 100);

    const saved = process.env.DATAKEEP_REPO_PASSPHRASE;
    delete process.env.DATAKEEP_REPO_PASSPHRASE;
    try {
      const noPassphrase = await bad({ retention: [{ table: 'events', retentionDays: 5, action: 'archive' }], archival: { enabled: true, destination: join(dir, 'archives-2') } });
      assert.ok(noPassphrase instanceof ConfigurationError && noPassphrase.field === 'encryption', String(noPassphrase));
    } finally {
      process.env.DATAKEEP_REPO_PASSPHRASE = saved;
    }
  });

  it('refuses a policy that would empty its table unless allowAll, and then empties it', async () => {
    await client.query(TABLE_SQL('all_old'));
    await fill(client, 'all_old', 300, 10);
    await client.query(`UPDATE all_old SET created_at = created_at - interval '30 days'`);
    await dm.setupLifecycleManagement({ retention: [{ table: 'all_old', retentionDays: 20 }] });
    const [plan] = await dm.lifecycle.plan();
    assert.match(plan!.refusal ?? '', /allowAll/);
    await assert.rejects(dm.lifecycle.run(), (e: unknown) => e instanceof DataLifecycleError && e.reason === 'would-remove-all');
    assert.equal((await client.query('SELECT count(*)::int AS n FROM all_old')).rows[0].n, 300);
    await dm.setupLifecycleManagement({ retention: [{ table: 'all_old', retentionDays: 20, allowAll: true, batchSize: 50 }] });
    const [result] = await dm.lifecycle.run();
    assert.equal(result!.rowsDeleted, 300);
    assert.equal(result!.batches, 6);
  });

  it('stops at the end of its maintenance window and says so; validateSystem reports it', async () => {
    await client.query(TABLE_SQL('windowed'));
    await fill(client, 'windowed', 200, 100);
    const now = new Date();
    const hhmm = (d: Date) => `${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}`;
    // A window that closed a minute ago: the run must not touch anything.
    const closed = { start: hhmm(new Date(now.getTime() - 3 * 60_000)), end: hhmm(new Date(now.getTime() - 60_000)) };
    await dm.setupLifecycleManagement({ retention: [{ table: 'windowed', retentionDays: 50, window: closed, timeZone: 'UTC' }] });
    const [result] = await dm.lifecycle.run();
    assert.equal(result!.outcome, 'window-end');
    assert.equal(result!.rowsDeleted, 0);
    const validation = await dm.validateSystem();
    assert.ok(validation.warnings.some((w) => /windowed.*behind/.test(w)), validation.warnings.join('; '));
  });
});


describe('data lifecycle on PostgreSQL: partitioned tables', () => {
  let db: TestDatabase;
  let client: pg.Client;
  let dir: string;
  let dm: DataManager;

  before(async () => {
    db = await createTestDatabase('dk_lifecycle_part');
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    dir = mkdtempSync(join(tmpdir(), 'datakeep-lifecycle-part-'));
    process.env.DATAKEEP_REPO_PASSPHRASE ??= 'lifecycle-test-passphrase';
    dm = new DataManager({ config: { databases: [db.config], state: { url: db.url }, logLevel: 'error' } });
    await dm.initialize();
  });

  after(async () => {
    await dm?.close();
    await client?.end();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A table partitioned by month over the last `months` months, `perMonth` rows each. */
  async function monthly(name: string, months: number, perMonth: number): Promise<void> {
    await client.query(`CREATE TABLE ${name} (id bigint NOT NULL, created_at timestamptz NOT NULL, note text, PRIMARY KEY (id, created_at)) PARTITION BY RANGE (created_at)`);
    for (let m = 0; m < months; m += 1) {
      await client.query(`CREATE TABLE ${name}_m${m} PARTITION OF ${name} FOR VALUES FROM (date_trunc('month', now()) - interval '${m} months') TO (date_trunc('month', now()) - interval '${m - 1} months')`);
    }
    await client.query(`INSERT INTO ${name} SELECT g, date_trunc('month', now()) - ((g % $1::int) * interval '1 month') + interval '1 hour', 'n' || g FROM generate_series(1, $1::int * $2::int) g`, [months, perMonth]);
  }

  it('detaches and drops whole expired partitions while a reader keeps reading, and deletes the rest in batches', async () => {
    await monthly('metrics', 8, 200);
    // 100 days: the partitions that ended more than 100 days ago go whole; rows of the partly expired one in batches.
    await dm.setupLifecycleManagement({ retention: [{ table: 'metrics', retentionDays: 100, lockTimeout: 500, batchSize: 100 }] });
    const [plan] = await dm.lifecycle.plan();
    assert.ok(plan!.partitions.length >= 3, `expired partitions: ${plan!.partitions.join(', ')}`);
    const expected = (await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM metrics WHERE created_at >= now() - interval '100 days'`)).rows[0]!.n;
    // The reader runs in this process: it starts once the (embedded, CPU-heavy) state store is open, so that what it
    // measures is the server's locks, not this event loop.
    const reader = { max: 0, queries: 0, stop: false };
    const readerClient = new pg.Client({ connectionString: db.url });
    await readerClient.connect();
    const reading = (async () => {
      while (!reader.stop) {
        const started = performance.now();
        await readerClient.query('SELECT count(*) FROM metrics WHERE id = $1', [Math.floor(Math.random() * 1600)]);
        reader.max = Math.max(reader.max, performance.now() - started);
        reader.queries += 1;
      }
    })();
    let result;
    try {
      [result] = await dm.lifecycle.run();
    } finally {
      reader.stop = true;
      await reading;
      await readerClient.end();
    }
    assert.equal(result!.outcome, 'done', result!.error);
    assert.deepEqual([...result!.partitionsDropped].sort(), [...plan!.partitions].sort());
    assert.equal((await client.query<{ n: number }>('SELECT count(*)::int AS n FROM metrics')).rows[0]!.n, expected);
    const left = await client.query<{ relname: string }>(`SELECT relname FROM pg_class WHERE relname LIKE 'metrics_m%' ORDER BY relname`);
    for (const dropped of result!.partitionsDropped) assert.ok(!left.rows.some((r) => dropped.endsWith(r.relname)), `${dropped} still exists`);
    assert.ok(reader.queries > 10);
    assert.ok(reader.max < 500, `the reader waited ${Math.round(reader.max)} ms, more than the lock timeout`);
  });

  it('archives an expired partition row by row before dropping it, and the archive restores it', async () => {
    await monthly('events_p', 8, 100);
    const expired = (await client.query<{ r: string }>(`SELECT to_json(t)::text AS r FROM events_p t WHERE created_at < now() - interval '100 days' ORDER BY id`)).rows.map((r) => r.r);
    await dm.setupLifecycleManagement({ retention: [{ table: 'events_p', retentionDays: 100, action: 'archive', batchSize: 80 }], archival: { enabled: true, destination: join(dir, 'archives') } });
    const [result] = await dm.lifecycle.run();
    assert.equal(result!.outcome, 'done', result!.error);
    assert.ok(result!.partitionsDropped.length >= 2);
    assert.equal(result!.rowsArchived, expired.length);
    await client.query('CREATE TABLE events_back (LIKE events_p)');
    for (const a of await dm.lifecycle.archives.list()) await dm.lifecycle.archives.restore(a.archiveId, { into: 'events_back' });
    const back = (await client.query<{ r: string }>('SELECT to_json(t)::text AS r FROM events_back t ORDER BY id')).rows.map((r) => r.r);
    assert.deepEqual(back, expired);
  });
});
