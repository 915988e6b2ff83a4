import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { DataManager } from '../../src/index.js';

const TGT = `dk_pglite_tgt_${process.pid}`;

async function admin(sql: string): Promise<void> {
  const c = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

describe('PGlite (the embedded default) logical backups', () => {
  let work: string;
  let dm: DataManager;
  let backupId: string;
  const destination = () => join(work, 'backups');

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'dk-pglite-logical-'));
    dm = new DataManager({ config: { databases: [{ type: 'pglite', id: 'embedded', dataDir: join(work, 'data') }], state: { dir: join(work, 'state') }, logLevel: 'error' } });
    await dm.initialize();
    await dm.execute(`CREATE TYPE color AS ENUM ('red', 'green')`);
    await dm.execute(`CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL, tags text[], c color, meta jsonb, at timestamptz DEFAULT now())`);
    await dm.execute(`INSERT INTO notes (body, tags, c, meta) SELECT E'line\\none\\ttab ' || g, ARRAY['t' || g], 'green', jsonb_build_object('g', g) FROM generate_series(1, 20000) g`);
    await dm.execute(`CREATE TABLE links (note int REFERENCES notes(id), url text)`);
    await dm.execute(`INSERT INTO links SELECT g, 'https://x/' || g FROM generate_series(1, 100) g`);
  });
  after(async () => {
    await dm?.close();
    await admin(`DROP DATABASE IF EXISTS ${TGT} WITH (FORCE)`);
    rmSync(work, { recursive: true, force: true });
  });

  it('backs up with no method given (logical is the embedded default)', async () => {
    const result = await dm.createBackup({ type: 'full', destination: destination(), compression: true, encryption: false, retention: { daily: 7 } });
    assert.equal(result.databases[0]!.method, 'logical');
    backupId = result.backupId;
    const [summary] = await dm.backups.listBackups({ destination: destination() });
    assert.equal(summary!.metadata.engine, 'pglite');
    assert.equal((await dm.backups.verifyBackup(backupId, { destination: destination() })).ok, true);
  });

  it('restores into a new embedded directory, with the same rows and a sequence that continues', async () => {
    const to = join(work, 'restored');
    const result = await dm.restoreBackup(backupId, { destination: destination(), to });
    assert.equal(result.to, `pglite:${to}`);
    const db = await PGlite.create(to);
    try {
      const sum = async (d: PGlite | DataManager, sql: string) => (d instanceof PGlite ? (await d.query<{ f: string }>(sql)).rows : await (d as DataManager).query<{ f: string }>(sql))[0]!.f;
      const fp = `SELECT md5(string_agg(n::text, '|' ORDER BY id)) AS f FROM notes n`;
      assert.equal(await sum(db, fp), await sum(dm, fp));
      assert.equal((await db.query<{ n: number }>(`SELECT nextval('notes_id_seq')::int AS n`)).rows[0]!.n, 20001);
      await assert.rejects(db.query(`INSERT INTO links VALUES (999999, 'x')`), /foreign key/);
    } finally {
      await db.close();
    }
  });

  it('restores one table into a PostgreSQL server, and refuses an unknown table before creating anything', async () => {
    await assert.rejects(dm.restoreBackup(backupId, { destination: destination(), to: join(work, 'never'), tables: ['missing'] }), /tables: no table "missing"/);
    assert.equal(existsSync(join(work, 'never')), false);
    const result = await dm.restoreBackup(backupId, { destination: destination(), target: `postgres://postgres@127.0.0.1:5432/${TGT}`, tables: ['notes'] });
    assert.deepEqual(result.tables, ['public.notes']);
    const c = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: TGT });
    await c.connect();
    try {
      assert.equal((await c.query(`SELECT count(*)::int AS n FROM notes WHERE body LIKE E'line\\none\\ttab %'`)).rows[0].n, 20000);
      assert.equal((await c.query(`SELECT count(*)::int AS n FROM pg_class WHERE relname = 'links'`)).rows[0].n, 0);
    } finally {
      await c.end();
    }
  });

  it('a target time before the snapshot is refused before anything is written; one after it says what it restored', async () => {
    const never = join(work, 'before-snapshot');
    await assert.rejects(dm.restoreBackup(backupId, { destination: destination(), to: never, targetTime: new Date(Date.now() - 3_600_000) }), /targetTime: .* is before the snapshot of logical backup/);
    assert.equal(existsSync(never), false, 'nothing written');
    await assert.rejects(dm.restoreBackup(backupId, { destination: destination(), to: never, targetLsn: '0/1' }), /targetLsn: .* is logical/);
    const later = await dm.restoreBackup(backupId, { destination: destination(), to: join(work, 'after-snapshot'), targetTime: '2999-01-01T00:00:00+05:30' });
    assert.match(later.note ?? '', /restored to the snapshot instant .* the newest restorable instant at or before 2998-12-31T18:30:00.000Z/);
  });

  it('drills into a scratch embedded database', async () => {
    const [report] = await dm.backups.drill({ destination: destination(), checks: { sql: 'SELECT count(*) = 100 FROM links' } });
    assert.equal(report!.ok, true, JSON.stringify(report));
  });
});
