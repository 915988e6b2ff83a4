import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { archivedRecords, killMidRun, rerun, type CrashScenario } from '../support/lifecycle-crash-harness.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-server.js';

/**
 * A PostgreSQL run killed with SIGKILL in the middle of archive-and-delete batches loses no row: after each kill every
 * expired row is in the table or in a completed archive; after a rerun every expired row is in exactly one archive,
 * exactly as it was, and gone from the table, and every other row is untouched. The worker runs in its own process
 * with the state store on PostgreSQL, so that this process can watch the ledger while it runs.
 */
describe('lifecycle: SIGKILL in the middle of archive-and-delete', () => {
  let db: TestDatabase;
  let state: TestDatabase;
  let client: pg.Client;
  let dir: string;

  before(async () => {
    db = await createTestDatabase('dk_lc_crash');
    state = await createTestDatabase('dk_lc_state');
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    dir = mkdtempSync(join(tmpdir(), 'datakeep-lc-crash-'));
  });

  after(async () => {
    await client?.end();
    await db?.drop();
    await state?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loses no row and archives none twice over three kills and a rerun', async () => {
    await client.query('CREATE TABLE ledger_rows (id bigserial PRIMARY KEY, created_at timestamptz(6) NOT NULL, amount numeric(30,10), note text)');
    await client.query(`INSERT INTO ledger_rows (created_at, amount, note)
      SELECT now() - (g % 400) * interval '1 day' - interval '7 microseconds', g * 1.0000000001, 'row ' || g FROM generate_series(1, 4000) g`);
    const expired = new Map((await client.query<{ id: string; r: string }>(`SELECT id, to_json(t)::text AS r FROM ledger_rows t WHERE created_at < now() - interval '200 days'`)).rows.map((r) => [r.id, r.r]));
    const kept = (await client.query<{ id: string; r: string }>(`SELECT id, to_json(t)::text AS r FROM ledger_rows t WHERE created_at >= now() - interval '200 days' ORDER BY id`)).rows;
    const scenario: CrashScenario = {
      config: {
        databases: [db.config],
        state: { url: state.url },
        logLevel: 'error',
        lifecycle: {
          retention: [{ table: 'ledger_rows', retentionDays: 200, action: 'archive', batchSize: 150, pauseMs: 30 }],
          archival: { destination: join(dir, 'archives') },
        },
      },
      stateUrl: state.url,
      passphrase: 'crash-test-passphrase',
      expired: new Set(expired.keys()),
      present: async () => new Set((await client.query<{ id: string }>('SELECT id FROM ledger_rows')).rows.map((r) => r.id)),
      idOf: (record) => String((JSON.parse(record) as { id: number | string }).id),
    };

    await killMidRun(scenario);
    const result = await rerun(scenario);
    assert.equal(result.outcome, 'done', result.error);
    const archived = await archivedRecords(scenario);
    assert.equal(archived.size, expired.size);
    for (const [id, record] of expired) assert.equal(archived.get(id), record, `archived row ${id} is not the row as it was`);
    const rest = (await client.query<{ id: string; r: string }>('SELECT id, to_json(t)::text AS r FROM ledger_rows t ORDER BY id')).rows;
    assert.deepEqual(rest, kept);
  });
});
