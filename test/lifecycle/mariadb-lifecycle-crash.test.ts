import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Connection } from 'mariadb';
import { DataManager } from '../../src/index.js';
import { archivedRecords, killMidRun, rerun, type CrashScenario } from '../support/lifecycle-crash-harness.js';
import { createMariadbTestDatabase, type MariadbTestDatabase } from '../support/mariadb-server.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-server.js';

/**
 * A MariaDB run killed with SIGKILL in the middle of archive-and-delete batches loses no row: after a rerun, every
 * expired row is in exactly one archive and gone from the table, the other rows are untouched, and the archives
 * restore the expired rows column for column. The state store is on the local PostgreSQL so that this process can
 * watch the ledger while the worker runs.
 */
describe('lifecycle on MariaDB: SIGKILL in the middle of archive-and-delete', () => {
  let db: MariadbTestDatabase;
  let state: TestDatabase;
  let conn: Connection;
  let dir: string;

  before(async () => {
    db = await createMariadbTestDatabase('dk_lc_mcrash');
    state = await createTestDatabase('dk_lc_mstate');
    conn = await db.admin();
    await conn.query(`USE \`${db.name}\``);
    await conn.query(`SET time_zone = '+00:00'`);
    dir = mkdtempSync(join(tmpdir(), 'datakeep-lc-mcrash-'));
  });

  after(async () => {
    await conn?.end();
    await db?.drop();
    await state?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loses no row and archives none twice over three kills and a rerun', async () => {
    await conn.query('CREATE TABLE ledger_rows (id BIGINT AUTO_INCREMENT PRIMARY KEY, created_at DATETIME(6) NOT NULL, amount DECIMAL(30,10), note TEXT) DEFAULT CHARSET utf8mb4');
    await conn.query(`INSERT INTO ledger_rows (created_at, amount, note)
      SELECT UTC_TIMESTAMP(6) - INTERVAL (seq % 400) DAY - INTERVAL 7 MICROSECOND, seq * 1.0000000001, CONCAT('row ', seq, ' ü') FROM seq_1_to_4000`);
    const cutoff = `UTC_TIMESTAMP(6) - INTERVAL 200 DAY`;
    const expired = new Set((await conn.query<{ id: bigint }[]>(`SELECT id FROM ledger_rows WHERE created_at < ${cutoff}`)).map((r) => String(r.id)));
    await conn.query('CREATE TABLE expected LIKE ledger_rows');
    await conn.query(`INSERT INTO expected SELECT * FROM ledger_rows WHERE created_at < ${cutoff}`);
    await conn.query('CREATE TABLE kept LIKE ledger_rows');
    await conn.query(`INSERT INTO kept SELECT * FROM ledger_rows WHERE created_at >= ${cutoff}`);

    const scenario: CrashScenario = {
      config: {
        databases: [{ ...db.config, id: 'maria' }],
        state: { url: state.url },
        logLevel: 'error',
        lifecycle: {
          retention: [{ table: 'ledger_rows', retentionDays: 200, action: 'archive', batchSize: 150, pauseMs: 30 }],
          archival: { destination: join(dir, 'archives') },
        },
      },
      stateUrl: state.url,
      passphrase: 'crash-test-passphrase',
      expired,
      present: async () => new Set((await conn.query<{ id: bigint }[]>('SELECT id FROM ledger_rows')).map((r) => String(r.id))),
      idOf: (record) => (JSON.parse(record) as { id: string }).id,
    };
    await killMidRun(scenario);
    const result = await rerun(scenario);
    assert.equal(result.outcome, 'done', result.error);

    const archived = await archivedRecords(scenario);
    assert.deepEqual([...archived.keys()].sort(), [...expired].sort());
    const same = (a: string, b: string) => `SELECT COUNT(*) AS n FROM ${a} x LEFT JOIN ${b} y ON y.id = x.id AND y.created_at = x.created_at AND y.amount <=> x.amount AND y.note <=> x.note WHERE y.id IS NULL`;
    assert.equal((await conn.query<{ n: bigint }[]>(same('kept', 'ledger_rows')))[0]!.n, 0n, 'a kept row changed or went');
    assert.equal((await conn.query<{ n: bigint }[]>('SELECT COUNT(*) AS n FROM ledger_rows'))[0]!.n, BigInt(4000 - expired.size));

    // The archives hold the rows exactly: restored into a copy, every column matches.
    await conn.query('CREATE TABLE back LIKE ledger_rows');
    process.env.DATAKEEP_REPO_PASSPHRASE = scenario.passphrase;
    const dm = new DataManager({ config: scenario.config as never });
    await dm.initialize();
    try {
      for (const archive of await dm.lifecycle.archives.list()) await dm.lifecycle.archives.restore(archive.archiveId, { into: 'back' });
    } finally {
      await dm.close();
    }
    assert.equal((await conn.query<{ n: bigint }[]>(same('expected', 'back')))[0]!.n, 0n);
    assert.equal((await conn.query<{ n: bigint }[]>('SELECT COUNT(*) AS n FROM back'))[0]!.n, BigInt(expired.size));
  });
});
