import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { DataManager, MigrationError } from '../../src/index.js';
import { createMariadbTestDatabase, type MariadbTestDatabase } from '../support/mariadb-server.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-server.js';
import { migrationDir, sql } from '../support/migration-files.js';

describe('migrations on MariaDB', () => {
  let maria: MariadbTestDatabase;
  let state: TestDatabase;
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    await maria?.drop();
    await state?.drop();
  });

  it('applies SQL migrations with history and a GET_LOCK lock, refuses while another runner holds it, rolls back', async () => {
    maria = await createMariadbTestDatabase('dk_mig');
    state = await createTestDatabase('dk_mig_state');
    const d = migrationDir({
      'maria/1_t.sql': sql('CREATE TABLE t (id int PRIMARY KEY, v varchar(20));', 'DROP TABLE t;'),
      'maria/2_rows.sql': sql("INSERT INTO t VALUES (1, 'a'), (2, 'b');", 'DELETE FROM t;'),
    });
    dirs.push(d);
    const config = { databases: [{ ...maria.config, id: 'maria' }], state: { url: state.url }, logLevel: 'error' as const };
    const a = new DataManager({ config });
    const b = new DataManager({ config });
    await a.initialize();
    await b.initialize();
    try {
      await a.initializeMigrations({ directory: d, tableName: 'schema_migrations' });
      await b.initializeMigrations({ directory: d, tableName: 'schema_migrations', lockTimeout: 1000 });
      // Hold the lock in one session and show the other runner is refused, naming the holder.
      const maria2 = a.database('maria');
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      const holding = (maria2 as unknown as { withSession<T>(fn: (s: { query(sql: string, p?: unknown[]): Promise<unknown[]> }) => Promise<T>): Promise<T> }).withSession(async (s) => {
        await s.query('SELECT GET_LOCK(?, 0)', ['datakeep:migrations:schema_migrations']);
        await held;
        await s.query('SELECT RELEASE_LOCK(?)', ['datakeep:migrations:schema_migrations']);
      });
      await new Promise((r) => setTimeout(r, 200));
      const refused = await b.migrate().then(() => undefined, (e: unknown) => e);
      assert.ok(refused instanceof MigrationError && refused.reason === 'lock-timeout', String(refused));
      assert.match(refused.message, /connection \d+/);
      release();
      await holding;
      const result = await a.migrate();
      assert.deepEqual(result.migrationsExecuted.map((m) => m.version), ['1', '2']);
      assert.equal((await b.migrate()).migrationsExecuted.length, 0);
      const rows = (await a.queryDatabase('maria', 'SELECT count(*) AS c FROM t')) as { c: number }[];
      assert.equal(rows[0]!.c, 2);
      const history = (await a.queryDatabase('maria', "SELECT version, status FROM schema_migrations ORDER BY id")) as { version: string; status: string }[];
      assert.deepEqual(history.map((h) => `${h.version}:${h.status}`), ['1:running', '1:applied', '2:running', '2:applied']);
      const rolled = await a.rollback('1');
      assert.deepEqual(rolled.migrationsRolledBack.map((m) => m.version), ['2']);
      assert.equal(((await a.queryDatabase('maria', 'SELECT count(*) AS c FROM t')) as { c: number }[])[0]!.c, 0);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
