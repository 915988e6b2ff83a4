import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync, mkdtempSync, mkdirSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DataManager, MigrationError } from '../../src/index.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-server.js';
import { migrationDir, sql, writeMigrations } from '../support/migration-files.js';

const repo = new URL('../..', import.meta.url).pathname;
const WORKER = join(repo, 'test', 'support', 'migrate-worker.ts');

function runWorker(args: string[]): { done: Promise<{ ok: boolean; executed?: string[]; message?: string; reason?: string }>; pid: number; kill(): void; started: Promise<void> } {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER, ...args], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let markStarted!: () => void;
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => {
    err += c;
    if (err.includes('start ')) markStarted();
  });
  const done = new Promise<{ ok: boolean; executed?: string[]; message?: string }>((resolve, reject) => {
    child.on('close', (code, signal) => {
      const line = out.trim().split('\n').pop();
      if (line) resolve(JSON.parse(line));
      else if (signal) resolve({ ok: false, message: `killed by ${signal}` });
      else reject(new Error(`worker exited ${code} without output: ${err}`));
    });
  });
  return { done, pid: child.pid!, kill: () => child.kill('SIGKILL'), started };
}

async function manager(db: TestDatabase, directory: string, extra: Record<string, unknown> = {}): Promise<DataManager> {
  const dm = new DataManager({ config: { databases: [{ ...db.config, id: 'app' }], logLevel: 'error', state: { url: db.url } } });
  await dm.initialize();
  await dm.initializeMigrations({ directory, tableName: 'schema_migrations', ...extra });
  return dm;
}

describe('migrations on PostgreSQL', () => {
  const dirs: string[] = [];
  const dbs: TestDatabase[] = [];
  const fresh = async () => {
    const db = await createTestDatabase('dk_mig');
    dbs.push(db);
    return db;
  };
  const dir = (files: Record<string, string>) => {
    const d = migrationDir(files);
    dirs.push(d);
    return d;
  };
  after(async () => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    await Promise.all(dbs.map((d) => d.drop()));
  });

  it("runs the seed's Migration Management example unchanged", async () => {
    const db = await fresh();
    const work = mkdtempSync(join(tmpdir(), 'dk-seed-mig-'));
    dirs.push(work);
    writeMigrations(join(work, 'migrations'), {
      '20230101000000_create_users.sql': sql('CREATE TABLE users (id serial PRIMARY KEY, name text);', 'DROP TABLE users;'),
      '20240101000000_add_email.sql': sql('ALTER TABLE users ADD COLUMN email text;', 'ALTER TABLE users DROP COLUMN email;'),
      '20240201000000_add_index.sql': sql('CREATE INDEX users_email ON users (email);', 'DROP INDEX users_email;'),
    });
    const previous = process.cwd();
    process.chdir(work);
    const dataManager = new DataManager({ config: { databases: [db.config], logLevel: 'error' } });
    try {
      await dataManager.initialize();
      // As written in the seed:
      await dataManager.initializeMigrations({
        directory: './migrations',
        tableName: 'schema_migrations',
        validateChecksums: true
      });
      const result = await dataManager.migrate();
      console.log(`Applied ${result.migrationsExecuted.length} migrations`);
      assert.equal(result.migrationsExecuted.length, 3);
      await dataManager.rollback('20240101000000');
      const status = await dataManager.migrations.status();
      assert.deepEqual(status.map((s) => `${s.version}:${s.state}`), ['20230101000000:applied', '20240101000000:applied', '20240201000000:rolled_back']);
      assert.equal((await dataManager.query("SELECT count(*)::int AS c FROM pg_indexes WHERE indexname = 'users_email'"))[0]!.c, 0);
      assert.equal((await dataManager.migrate()).migrationsExecuted.length, 1);
    } finally {
      await dataManager.close();
      process.chdir(previous);
    }
  });

  it('a failing migration in the middle: earlier applied, it is recorded failed and rolled back, later not run; after a fix it continues', async () => {
    const db = await fresh();
    const d = dir({
      '1_a.sql': sql('CREATE TABLE a (x int);'),
      '2_b.sql': sql("CREATE TABLE b (x int);\nINSERT INTO b VALUES (1);\nSELECT * FROM no_such_table;"),
      '3_c.sql': sql('CREATE TABLE c (x int);'),
    });
    const dm = await manager(db, d);
    try {
      const error = await dm.migrate().then(() => undefined, (e: unknown) => e);
      assert.ok(error instanceof MigrationError && error.reason === 'failed' && error.version === '2', String(error));
      assert.match(error.message, /no_such_table/);
      const tables = (await dm.query<{ t: string }>("SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' AND tablename IN ('a','b','c') ORDER BY 1")).map((r) => r.t);
      assert.deepEqual(tables, ['a'], 'b rolled back, c never ran');
      const history = await dm.query<{ version: string; status: string; error: string | null }>('SELECT version, status, error FROM schema_migrations ORDER BY id');
      assert.deepEqual(history.map((h) => `${h.version}:${h.status}`), ['1:running', '1:applied', '2:running', '2:failed']);
      assert.match(history[3]!.error!, /no_such_table/);
      writeFileSync(join(d, '2_b.sql'), sql('CREATE TABLE b (x int);\nINSERT INTO b VALUES (1);'));
      const result = await dm.migrate();
      assert.deepEqual(result.migrationsExecuted.map((m) => m.version), ['2', '3']);
    } finally {
      await dm.close();
    }
  });

  it('CREATE INDEX CONCURRENTLY runs in a transaction:false migration and is refused in a transactional one before anything runs', async () => {
    const db = await fresh();
    const d = dir({
      '1_t.sql': sql('CREATE TABLE t (a int);'),
      '2_idx.sql': sql('CREATE INDEX CONCURRENTLY t_a ON t (a);', 'DROP INDEX CONCURRENTLY t_a;', 'transaction:false'),
    });
    const dm = await manager(db, d);
    try {
      assert.equal((await dm.migrate()).migrationsExecuted.length, 2);
      assert.equal((await dm.query("SELECT count(*)::int AS c FROM pg_indexes WHERE indexname = 't_a'"))[0]!.c, 1);
      writeMigrations(d, { '3_other.sql': sql('CREATE TABLE other (a int);'), '4_bad.sql': sql('CREATE INDEX CONCURRENTLY t_a2 ON t (a);') });
      const error = await dm.migrate().then(() => undefined, (e: unknown) => e);
      assert.ok(error instanceof MigrationError && error.reason === 'not-allowed-in-transaction', String(error));
      assert.match(error.message, /transaction:false/);
      assert.equal((await dm.query("SELECT count(*)::int AS c FROM pg_tables WHERE tablename = 'other'"))[0]!.c, 0, 'nothing ran');
    } finally {
      await dm.close();
    }
  });

  it('an applied file edited fails validation by name; re-saved with CRLF it passes', async () => {
    const db = await fresh();
    const text = sql('CREATE TABLE v (a int);\nCOMMENT ON TABLE v IS \'v\';', 'DROP TABLE v;');
    const d = dir({ '1_v.sql': text });
    const dm = await manager(db, d, { validateChecksums: true });
    try {
      await dm.migrate();
      writeFileSync(join(d, '1_v.sql'), text.replace(/\n/g, '\r\n'));
      assert.equal((await dm.migrations.validate()).valid, true);
      writeFileSync(join(d, '1_v.sql'), text.replace('a int', 'a bigint'));
      const report = await dm.migrations.validate();
      assert.equal(report.valid, false);
      assert.deepEqual(report.issues.map((i) => `${i.kind}:${i.version}_${i.name}`), ['changed:1_v']);
      writeMigrations(d, { '2_w.sql': sql('CREATE TABLE w (a int);') });
      await assert.rejects(dm.migrate(), (e: unknown) => e instanceof MigrationError && e.reason === 'checksum-mismatch' && /1_v\.sql was changed/.test(e.message));
      // The operator accepts the edit: repair records the new checksum, audited; pending 2_w is not an issue.
      await dm.migrations.repair('1', { as: 'applied' });
      assert.deepEqual((await dm.migrations.validate()).issues, []);
      assert.equal((await dm.migrate()).migrationsExecuted.length, 1);
    } finally {
      await dm.close();
    }
  });

  it('a merged branch: an older pending migration is refused by default and applied with allowOutOfOrder', async () => {
    const db = await fresh();
    const d = dir({ '10_a.sql': sql('CREATE TABLE a (x int);'), '30_c.sql': sql('CREATE TABLE c (x int);') });
    const dm = await manager(db, d);
    try {
      await dm.migrate();
      writeMigrations(d, { '20_b.sql': sql('CREATE TABLE b (x int);') });
      const error = await dm.migrate().then(() => undefined, (e: unknown) => e);
      assert.ok(error instanceof MigrationError && error.reason === 'out-of-order', String(error));
      assert.match(error.message, /20_b is pending but older than the newest applied migration 30.*allowOutOfOrder/);
      const result = await dm.migrations.migrate({ allowOutOfOrder: true });
      assert.deepEqual(result.migrationsExecuted.map((m) => m.version), ['20']);
    } finally {
      await dm.close();
    }
  });

  it('rollback across SQL and TypeScript migrations; a missing down part stops it before anything runs', async () => {
    const db = await fresh();
    const d = dir({
      '1_base.sql': sql('CREATE TABLE r (x int);', 'DROP TABLE r;'),
      '2_seed.ts': `export async function up(ctx) { await ctx.tx.execute('INSERT INTO r (x) VALUES (?), (?)', [1, 2]); }\nexport async function down(ctx) { await ctx.adapter.execute('DELETE FROM r'); }\n`,
      '3_col.sql': sql('ALTER TABLE r ADD COLUMN y int;', 'ALTER TABLE r DROP COLUMN y;'),
      '4_nodown.sql': sql('CREATE TABLE nodown (a int);'),
    });
    const dm = await manager(db, d);
    try {
      await dm.migrate();
      const blocked = await dm.rollback('1').then(() => undefined, (e: unknown) => e);
      assert.ok(blocked instanceof MigrationError && blocked.reason === 'missing-down' && /4_nodown\.sql has no down part/.test(blocked.message), String(blocked));
      assert.equal((await dm.query("SELECT count(*)::int AS c FROM pg_tables WHERE tablename = 'nodown'"))[0]!.c, 1, 'nothing was rolled back');
      rmSync(join(d, '4_nodown.sql'));
      writeMigrations(d, { '4_nodown.sql': sql('CREATE TABLE nodown (a int);', 'DROP TABLE nodown;') });
      await dm.migrations.repair('4', { as: 'applied' });
      const result = await dm.rollback('1');
      assert.deepEqual(result.migrationsRolledBack.map((m) => m.version), ['4', '3', '2']);
      assert.equal((await dm.query('SELECT count(*)::int AS c FROM r'))[0]!.c, 0);
      assert.deepEqual((await dm.query<{ c: string }>("SELECT column_name AS c FROM information_schema.columns WHERE table_name = 'r'")).map((r) => r.c), ['x']);
    } finally {
      await dm.close();
    }
  });

  it('plan shows the SQL and lint warnings without running anything; baseline and repair are audited', async () => {
    const db = await fresh();
    const d = dir({ '1_t.sql': sql('CREATE TABLE p (a int);'), '2_danger.sql': sql('DROP TABLE p;\nCREATE INDEX q ON other (a);') });
    const dm = await manager(db, d);
    try {
      const plan = await dm.migrations.plan();
      assert.deepEqual(plan.map((p) => p.version), ['1', '2']);
      assert.equal(plan[1]!.sql, 'DROP TABLE p;\nCREATE INDEX q ON other (a);');
      assert.ok(plan[1]!.warnings.some((w) => /DROP TABLE p/.test(w)));
      assert.ok(plan[1]!.warnings.some((w) => /without CONCURRENTLY/.test(w)));
      assert.equal((await dm.query("SELECT count(*)::int AS c FROM pg_tables WHERE tablename = 'p'"))[0]!.c, 0);
      const dry = await dm.migrations.baseline('1', { dryRun: true });
      assert.equal(dry[0]!.dryRun, true);
      assert.deepEqual((await dm.migrations.status()).map((s) => s.state), ['pending', 'pending']);
      await dm.migrations.baseline('1');
      assert.deepEqual((await dm.migrations.status()).map((s) => `${s.version}:${s.state}`), ['1:baselined', '2:pending']);
      const audit = await (await dm.state()).auditLog(5);
      assert.deepEqual(audit.map((a) => `${a.action}:${a.dryRun}`).slice(0, 2), ['migrate.baseline:false', 'migrate.baseline:true']);
    } finally {
      await dm.close();
    }
  });

  it('eight processes migrating one fresh database at once apply every migration exactly once', async () => {
    const db = await fresh();
    const files: Record<string, string> = {};
    for (let i = 1; i <= 12; i += 1) files[`${i}_m${i}.sql`] = sql(`CREATE TABLE t${i} (a int); SELECT pg_sleep(0.05);`);
    const d = dir(files);
    const workers = Array.from({ length: 8 }, () => runWorker([db.url, d, 'schema_migrations', '60000']));
    const results = await Promise.all(workers.map((w) => w.done));
    assert.ok(results.every((r) => r.ok), JSON.stringify(results));
    const executed = results.flatMap((r) => r.executed ?? []);
    assert.equal(executed.length, 12, `each migration ran once in total: ${JSON.stringify(results)}`);
    assert.equal(new Set(executed).size, 12);
    const dm = await manager(db, d);
    try {
      const history = await dm.query<{ version: string; c: number }>("SELECT version, count(*)::int AS c FROM schema_migrations WHERE status = 'applied' GROUP BY version");
      assert.equal(history.length, 12);
      assert.ok(history.every((h) => h.c === 1));
    } finally {
      await dm.close();
    }
  });

  it('a runner killed with SIGKILL while holding the lock: the next runner proceeds without manual steps', async () => {
    const db = await fresh();
    const d = dir({ '1_fast.sql': sql('CREATE TABLE k1 (a int);'), '2_slow.sql': sql("CREATE TABLE k2 (a int);\n-- slow on the first run only, so the re-run after the kill is quick\nSELECT pg_sleep(CASE WHEN to_regclass('k_rerun') IS NULL THEN 30 ELSE 0 END);"), '3_after.sql': sql('CREATE TABLE k3 (a int);') });
    const victim = runWorker([db.url, d, 'schema_migrations', '60000']);
    await victim.started;
    // Wait until the slow migration is in progress (its running record is committed).
    const dm = await manager(db, d, { lockTimeout: 20000 });
    try {
      for (let i = 0; i < 100; i += 1) {
        const rows = await dm.query("SELECT 1 FROM schema_migrations WHERE version = '2' AND status = 'running'").catch(() => []);
        if (rows.length) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const holder = await dm.migrations.locks();
      assert.match(holder[0]!.holder?.description ?? '', /datakeep-migrate/);
      const t0 = Date.now();
      victim.kill();
      await victim.done;
      await dm.execute('CREATE TABLE k_rerun (a int)');
      const result = await dm.migrate();
      console.log(`after SIGKILL, the next runner finished in ${Date.now() - t0} ms`);
      assert.deepEqual(result.migrationsExecuted.map((m) => m.version), ['2', '3']);
      const history = await dm.query<{ s: string }>("SELECT version || ':' || status AS s FROM schema_migrations WHERE version = '2' ORDER BY id");
      assert.deepEqual(history.map((h) => h.s), ['2:running', '2:failed', '2:running', '2:applied']);
    } finally {
      await dm.close();
    }
  });

  it('waiting runners time out naming the holder', async () => {
    const db = await fresh();
    const d = dir({ '1_slow.sql': sql('SELECT pg_sleep(5);') });
    const holderRun = runWorker([db.url, d, 'schema_migrations', '60000']);
    await holderRun.started;
    const dm = await manager(db, d, { lockTimeout: 500 });
    try {
      const error = await dm.migrate().then(() => undefined, (e: unknown) => e);
      assert.ok(error instanceof MigrationError && error.reason === 'lock-timeout', String(error));
      assert.match(error.message, /PostgreSQL backend pid \d+ \(application_name "datakeep-migrate [^"]+", from 127\.0\.0\.1\) since \d{4}-/);
    } finally {
      await dm.close();
      await holderRun.done;
    }
  });

  it('lock-table mode serialises runners too (for poolers in transaction mode)', async () => {
    const db = await fresh();
    const files: Record<string, string> = {};
    for (let i = 1; i <= 5; i += 1) files[`${i}_m.sql`] = sql(`CREATE TABLE lt${i} (a int);`);
    const d = dir(files);
    const a = await manager(db, d, { lockMode: 'lock-table', leaseTtl: 2000 });
    const b = await manager(db, d, { lockMode: 'lock-table', leaseTtl: 2000 });
    try {
      const [ra, rb] = await Promise.all([a.migrate(), b.migrate()]);
      assert.equal(ra.migrationsExecuted.length + rb.migrationsExecuted.length, 5);
      assert.equal((await a.query('SELECT count(*)::int AS c FROM schema_migrations_lock'))[0]!.c, 0, 'the lease is released');
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('create writes a timestamped file in the right format', async () => {
    const db = await fresh();
    const d = dir({});
    const dm = await manager(db, d);
    try {
      const path = await dm.migrations.create('add_orders');
      assert.match(path, /\/\d{14}_add_orders\.sql$/);
      assert.match(readFileSync(path, 'utf8'), /-- migrate:up[\s\S]*-- migrate:down/);
      await assert.rejects(dm.migrations.create('bad name'), /not a migration name/);
      mkdirSync(join(d, 'unused'), { recursive: true });
      await assert.rejects(dm.migrations.status(), /no database has the id "unused"/);
      rmSync(join(d, 'unused'), { recursive: true });
      assert.equal(readdirSync(d).length, 1);
    } finally {
      await dm.close();
    }
  });
});
