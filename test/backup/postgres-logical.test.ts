import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { DataManager } from '../../src/index.js';

const SERVER = { host: '127.0.0.1', port: 5432, user: 'postgres' };
const tag = `${process.pid}`;
const SRC = `dk_logical_src_${tag}`;
const TGT = `dk_logical_tgt_${tag}`;
const ONE = `dk_logical_one_${tag}`;
const STATE = `dk_logical_state_${tag}`;
const url = (db: string) => `postgres://postgres@127.0.0.1:5432/${db}`;

async function admin<T>(fn: (c: pg.Client) => Promise<T>, database = 'postgres'): Promise<T> {
  const c = new pg.Client({ ...SERVER, database });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}
const q = async <T extends pg.QueryResultRow>(db: string, sql: string, params?: unknown[]) => admin(async (c) => (await c.query<T>(sql, params)).rows, db);
const fingerprint = (db: string, table: string) => q<{ f: string; n: string }>(db, `SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS f, count(*)::text AS n FROM ${table} t`).then((r) => r[0]!);

const SCHEMA = `
  CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
  CREATE SCHEMA "Other Schema";
  CREATE SEQUENCE ticket_seq START 500;
  CREATE TABLE kinds (
    id serial PRIMARY KEY, i2 smallint, i8 bigint, num numeric(12,3), f8 double precision, t text, vc varchar(20), b bytea,
    j jsonb, js json, ts timestamptz, d date, tm time, iv interval, u uuid, arr int[], tarr text[], m mood, marr mood[], flag boolean,
    ip inet, ticket int DEFAULT nextval('ticket_seq'), doubled int GENERATED ALWAYS AS (i2 * 2) STORED,
    CHECK (num IS NULL OR num >= 0));
  CREATE INDEX kinds_lower_t ON kinds (lower(t)) WHERE t IS NOT NULL;
  CREATE UNIQUE INDEX kinds_vc ON kinds (vc);
  INSERT INTO kinds (i2, i8, num, f8, t, vc, b, j, js, ts, d, tm, iv, u, arr, tarr, m, marr, flag, ip)
    SELECT g, g::bigint * 1000000000, g * 1.5, g / 3.0, E'tab\\there\\nnew line \\\\ back ' || g, 'vc' || g, decode(md5(g::text), 'hex'),
      jsonb_build_object('g', g, 's', E'q"uote\\n'), '{"a": [1, 2]}', '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 hour',
      DATE '2026-01-01' + g, TIME '12:00' + g * interval '1 minute', g * interval '1 day', md5(g::text)::uuid, ARRAY[g, g + 1],
      ARRAY['a' || g, NULL, 'x,y'], (ARRAY['sad', 'ok', 'happy'])[1 + g % 3]::mood, ARRAY['ok'::mood], g % 2 = 0, '10.0.0.1'::inet + g
    FROM generate_series(1, 300) g;
  INSERT INTO kinds (t) VALUES (NULL);
  CREATE TABLE customers (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL);
  INSERT INTO customers (name) SELECT 'c' || g FROM generate_series(1, 50) g;
  CREATE TABLE orders (id serial PRIMARY KEY, customer bigint NOT NULL REFERENCES customers(id), amount numeric NOT NULL);
  INSERT INTO orders (customer, amount) SELECT 1 + g % 50, g FROM generate_series(1, 2000) g;
  CREATE TABLE measurements (at date NOT NULL, sensor int NOT NULL, value real, PRIMARY KEY (at, sensor)) PARTITION BY RANGE (at);
  CREATE TABLE measurements_2025 PARTITION OF measurements FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
  CREATE TABLE measurements_2026 PARTITION OF measurements FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
  CREATE TABLE measurements_other PARTITION OF measurements DEFAULT;
  CREATE INDEX measurements_value ON measurements (value);
  INSERT INTO measurements SELECT DATE '2025-06-01' + g % 900, g, g / 7.0 FROM generate_series(1, 3000) g;
  CREATE TABLE "Other Schema"."Mixed Case" ("Key" text PRIMARY KEY, "v" int);
  INSERT INTO "Other Schema"."Mixed Case" SELECT 'k' || g, g FROM generate_series(1, 10) g;
  -- The transfer invariant: every transfer writes one row into each table in one transaction.
  CREATE TABLE debits (transfer bigint PRIMARY KEY, amount int NOT NULL);
  CREATE TABLE credits (transfer bigint PRIMARY KEY REFERENCES debits(transfer), amount int NOT NULL);
  INSERT INTO debits SELECT g, g % 100 FROM generate_series(1, 200000) g;
  INSERT INTO credits SELECT g, g % 100 FROM generate_series(1, 200000) g;
  SELECT lo_from_bytea(0, 'a large object'::bytea);
`;
const STATIC_TABLES = ['kinds', 'customers', 'orders', 'measurements', '"Other Schema"."Mixed Case"'];

describe('PostgreSQL logical backups (exported snapshot, parallel COPY, restore table by table)', () => {
  let work: string;
  let dm: DataManager;
  let backupId: string;
  let snapshotSums: { debits: string; credits: string } | undefined;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'dk-logical-'));
    await admin(async (c) => {
      for (const db of [SRC, TGT, ONE, STATE]) await c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      await c.query(`CREATE DATABASE ${SRC}`);
      await c.query(`CREATE DATABASE ${STATE}`);
    });
    await admin((c) => c.query(SCHEMA), SRC);
    dm = new DataManager({ config: { databases: [{ url: url(SRC), id: 'app' }], state: { url: url(STATE) }, logLevel: 'error' } });
    await dm.initialize();
  });
  after(async () => {
    await dm?.close();
    await admin(async (c) => {
      for (const db of [SRC, TGT, ONE, STATE]) await c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    });
    rmSync(work, { recursive: true, force: true });
  });

  it('backs up while transfers run, and the restore shows exactly one instant of both tables', async () => {
    let stop = false;
    let transfers = 0;
    const writer = (async () => {
      const c = new pg.Client({ ...SERVER, database: SRC });
      await c.connect();
      try {
        for (let id = 1_000_000; !stop; id++) {
          await c.query('BEGIN');
          await c.query('INSERT INTO debits VALUES ($1, 7)', [id]);
          await c.query('INSERT INTO credits VALUES ($1, 7)', [id]);
          await c.query('COMMIT');
          transfers++;
        }
      } finally {
        await c.end();
      }
    })();
    try {
      while (transfers < 20) await new Promise((r) => setTimeout(r, 20));
      const result = await dm.createBackup({ type: 'full', method: 'logical', destination: join(work, 'backups'), compression: true, encryption: false, retention: { daily: 7 }, workers: 2 });
      backupId = result.backupId;
      assert.equal(result.databases[0]!.method, 'logical');
    } finally {
      stop = true;
      await writer;
    }
    assert.ok(transfers > 20, 'the writer ran during the backup');
    const listed = await dm.backups.listBackups({ destination: join(work, 'backups') });
    assert.equal(listed.at(-1)!.metadata.method, 'logical');
    assert.equal(listed.at(-1)!.metadata.engine, 'postgresql');

    const restored = await dm.restoreBackup(backupId, { destination: join(work, 'backups'), target: url(TGT), workers: 2 });
    assert.equal(restored.backupId, backupId);
    const [d] = await q<{ n: string; s: string }>(TGT, 'SELECT count(*)::text AS n, sum(amount)::text AS s FROM debits');
    const [c] = await q<{ n: string; s: string }>(TGT, 'SELECT count(*)::text AS n, sum(amount)::text AS s FROM credits');
    assert.deepEqual(d, c, 'debits and credits restored from the same instant');
    const [orphans] = await q<{ n: string }>(TGT, 'SELECT count(*)::text AS n FROM debits LEFT JOIN credits USING (transfer) WHERE credits.transfer IS NULL');
    assert.equal(orphans!.n, '0');
    assert.ok(Number(d!.n) > 200000 && Number(d!.n) < 200000 + transfers, `a snapshot during the writes (${d!.n} rows of ${200000 + transfers})`);
    snapshotSums = { debits: d!.s, credits: c!.s };
  });

  it('restores every type, partition, sequence, index and constraint exactly', async () => {
    for (const table of STATIC_TABLES) assert.deepEqual(await fingerprint(TGT, table), await fingerprint(SRC, table), table);
    const objects = (db: string) => q<{ o: string }>(db, `
      SELECT string_agg(x, E'\\n' ORDER BY x) AS o FROM (
        SELECT indexdef AS x FROM pg_indexes WHERE schemaname NOT IN ('pg_catalog', 'information_schema')
        UNION ALL SELECT conrelid::regclass || ' ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE connamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace) AND contype <> 'n'
        UNION ALL SELECT c.relname || ' ' || pg_get_expr(c.relpartbound, c.oid) FROM pg_class c WHERE c.relispartition) s`);
    assert.equal((await objects(TGT))[0]!.o, (await objects(SRC))[0]!.o);
    // Sequences continue where the source was at the snapshot.
    const [next] = await q<{ k: string; c: string; o: string; t: string }>(TGT, `SELECT nextval('kinds_id_seq')::text AS k, nextval('ticket_seq')::text AS t,
      (SELECT max(id) FROM orders)::text AS o, nextval('orders_id_seq')::text AS c`);
    assert.equal(next!.k, '302');
    assert.equal(next!.t, '801');
    assert.equal(Number(next!.c), Number(next!.o) + 1);
    const [identity] = await q<{ id: string }>(TGT, "INSERT INTO customers (name) VALUES ('new') RETURNING id::text AS id");
    assert.equal(identity!.id, '51');
    await assert.rejects(q(TGT, 'INSERT INTO orders (customer, amount) VALUES (999, 1)'), /foreign key/);
    await assert.rejects(q(TGT, 'INSERT INTO kinds (num) VALUES (-1)'), /check constraint/);
    // Large objects are not part of a logical backup (documented).
    const [lo] = await q<{ n: string }>(TGT, 'SELECT count(*)::text AS n FROM pg_largeobject_metadata');
    assert.equal(lo!.n, '0');
  });

  it('restores one table into another database; its foreign key to a table left out is reported, not half-made', async () => {
    const result = await dm.restoreBackup(backupId, { destination: join(work, 'backups'), target: url(ONE), tables: ['orders'] });
    assert.deepEqual(result.tables, ['public.orders']);
    const tables = await q<{ t: string }>(ONE, "SELECT relname AS t FROM pg_class WHERE relkind IN ('r', 'p') AND relnamespace = 'public'::regnamespace ORDER BY 1");
    assert.deepEqual(tables.map((t) => t.t), ['orders']);
    assert.deepEqual(await fingerprint(ONE, 'orders'), await fingerprint(SRC, 'orders'));
    assert.match(result.note ?? '', /customers/);
    const [next] = await q<{ n: string }>(ONE, "SELECT nextval('orders_id_seq')::text AS n");
    assert.equal(next!.n, '2001');
  });

  it('refuses bad inputs with errors naming them, and writes nothing', async () => {
    const before = (await dm.backups.listBackups({ destination: join(work, 'backups') })).length;
    await assert.rejects(dm.createBackup({ type: 'full', method: 'logical', tables: ['no_such_table'], destination: join(work, 'backups'), compression: true, encryption: false, retention: { daily: 7 } }),
      (e: Error & { code?: string }) => e.code === 'DK_USAGE' && /tables: no table "no_such_table"/.test(e.message));
    await assert.rejects(dm.createBackup({ type: 'incremental', method: 'logical', destination: join(work, 'backups'), compression: true, encryption: false, retention: { daily: 7 } }),
      /type: .*does not apply to logical backups/);
    assert.equal((await dm.backups.listBackups({ destination: join(work, 'backups') })).length, before);
    const tablesBefore = await q<{ n: string }>(TGT, "SELECT count(*)::text AS n FROM pg_class WHERE relnamespace = 'public'::regnamespace");
    await assert.rejects(dm.restoreBackup(backupId, { destination: join(work, 'backups'), target: url(TGT) }),
      (e: Error & { reason?: string }) => e.reason === 'unsafe-destination' && /already has/.test(e.message) && /nothing was written/.test(e.message));
    assert.deepEqual(await q(TGT, "SELECT count(*)::text AS n FROM pg_class WHERE relnamespace = 'public'::regnamespace"), tablesBefore);
    assert.deepEqual(await q<{ s: string }>(TGT, 'SELECT sum(amount)::text AS s FROM debits').then((r) => r[0]!.s), snapshotSums!.debits);
    await assert.rejects(dm.restoreBackup(backupId, { destination: join(work, 'backups'), target: url(`${ONE}_x`), tables: ['nope'] }), /tables: no table "nope"/);
    const [created] = await q<{ n: string }>('postgres', 'SELECT count(*)::text AS n FROM pg_database WHERE datname = $1', [`${ONE}_x`]);
    assert.equal(created!.n, '0', 'a refused restore leaves no database behind');
  });

  it('verifies, shows the snapshot instant as its window, and drills into a scratch database', async () => {
    const verified = await dm.backups.verifyBackup(backupId, { destination: join(work, 'backups') });
    assert.equal(verified.ok, true);
    const [window] = await dm.backups.window('app', { destination: join(work, 'backups') });
    assert.equal(window!.method, 'logical');
    assert.equal(window!.snapshots?.length, 1);
    assert.equal(window!.from?.backupId, backupId);
    const [report] = await dm.backups.drill({ destination: join(work, 'backups'), target: url('postgres'), checks: { sql: 'SELECT count(*) = 50 FROM customers' } });
    assert.equal(report!.ok, true, JSON.stringify(report));
    assert.equal(report!.runs.length, 1);
    assert.ok(report!.runs[0]!.tables.some((t) => t.name === 'public.debits' && t.rows > 200000));
    const [left] = await q<{ n: string }>('postgres', "SELECT count(*)::text AS n FROM pg_database WHERE datname LIKE 'datakeep_drill_%'");
    assert.equal(left!.n, '0', 'the scratch database is dropped');
  });
});
