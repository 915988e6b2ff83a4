import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { DataManager } from '../../src/index.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-server.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const WORKER = join(repo, 'test', 'support', 'lifecycle-worker.ts');

/**
 * A run killed with SIGKILL in the middle of archive-and-delete batches loses no row: after reruns, every expired row
 * is in exactly one archive and no longer in the table, and every other row is untouched. The worker runs in its own
 * process with the state store on PostgreSQL (so this process can watch the ledger while it runs) and is killed at
 * random moments after it has written some archives: inside an archive write, between an archive and its delete,
 * inside a delete.
 */
describe('lifecycle: SIGKILL in the middle of archive-and-delete', () => {
  let db: TestDatabase;
  let state: TestDatabase;
  let client: pg.Client;
  let stateClient: pg.Client;
  let dir: string;

  before(async () => {
    db = await createTestDatabase('dk_lc_crash');
    state = await createTestDatabase('dk_lc_state');
    client = new pg.Client({ connectionString: db.url });
    stateClient = new pg.Client({ connectionString: state.url });
    await Promise.all([client.connect(), stateClient.connect()]);
    dir = mkdtempSync(join(tmpdir(), 'datakeep-lc-crash-'));
  });

  after(async () => {
    await client?.end();
    await stateClient?.end();
    await db?.drop();
    await state?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loses no row and archives none twice over three kills and a rerun', async () => {
    await client.query('CREATE TABLE ledger_rows (id bigserial PRIMARY KEY, created_at timestamptz(6) NOT NULL, amount numeric(30,10), note text)');
    await client.query(`INSERT INTO ledger_rows (created_at, amount, note)
      SELECT now() - (g % 400) * interval '1 day' - interval '7 microseconds', g * 1.0000000001, 'row ' || g FROM generate_series(1, 6000) g`);
    const expired = new Map((await client.query<{ id: string; r: string }>(`SELECT id, to_json(t)::text AS r FROM ledger_rows t WHERE created_at < now() - interval '200 days'`)).rows.map((r) => [r.id, r.r]));
    const kept = (await client.query<{ id: string; r: string }>(`SELECT id, to_json(t)::text AS r FROM ledger_rows t WHERE created_at >= now() - interval '200 days' ORDER BY id`)).rows;
    const config = {
      databases: [db.config],
      state: { url: state.url },
      logLevel: 'error' as const,
      lifecycle: {
        retention: [{ table: 'ledger_rows', retentionDays: 200, action: 'archive' as const, batchSize: 150, pauseMs: 30 }],
        archival: { destination: join(dir, 'archives') },
      },
    };
    const env = { ...process.env, DATAKEEP_REPO_PASSPHRASE: 'crash-test-passphrase' };
    process.env.DATAKEEP_REPO_PASSPHRASE = 'crash-test-passphrase';

    const archivedSoFar = async () => {
      const rows = await stateClient.query<{ n: string }>(`SELECT count(*) AS n FROM datakeep.lifecycle_archives`).catch(() => ({ rows: [{ n: '0' }] }));
      return Number(rows.rows[0]!.n);
    };
    // A killed run's lease keeps the next run out until it expires (at most 15 s): wait for it, as an operator would.
    const leaseFree = async () => {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const held = await stateClient.query(`SELECT 1 FROM datakeep.leases WHERE name LIKE 'job:lifecycle:%' AND expires_at >= now()`).catch(() => ({ rowCount: 0 }));
        if (!held.rowCount || Date.now() > deadline) return;
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    for (let kill = 1; kill <= 3; kill += 1) {
      await leaseFree();
      const before = await archivedSoFar();
      const child = spawn(process.execPath, ['--import', 'tsx', WORKER, JSON.stringify(config)], { cwd: repo, env, stdio: ['ignore', 'pipe', 'pipe'] });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      const deadline = Date.now() + 120_000;
      while ((await archivedSoFar()) < before + 2 && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 120)));
      child.kill('SIGKILL');
      await exited;
      assert.ok((await archivedSoFar()) >= before + 2, `kill ${kill}: the worker wrote archives before it was killed`);
      // Nothing lost at any moment: every expired row is in the table or in a completed archive.
      const present = new Set((await client.query<{ id: string }>('SELECT id FROM ledger_rows')).rows.map((r) => r.id));
      const archived = await archivedIds(config, dir);
      for (const id of expired.keys()) assert.ok(present.has(id) || archived.has(id), `kill ${kill}: row ${id} is in neither the table nor an archive`);
    }

    await leaseFree();
    const dm = new DataManager({ config });
    await dm.initialize();
    try {
      const [result] = await dm.lifecycle.run();
      assert.equal(result!.outcome, 'done', result!.error);
      assert.ok(result!.recovered >= 0);
      const archives = await dm.lifecycle.archives.list();
      const seen = new Map<string, string>();
      for (const archive of archives) {
        const shown = await dm.lifecycle.archives.show(archive.archiveId, { limit: 1_000_000 });
        for (const record of shown.sample) {
          const id = String((JSON.parse(record) as { id: number | string }).id);
          assert.ok(!seen.has(id), `row ${id} is in two archives`);
          seen.set(id, record);
        }
      }
      assert.equal(seen.size, expired.size);
      for (const [id, record] of expired) assert.equal(seen.get(id), record, `archived row ${id} is not the row as it was`);
      const rest = (await client.query<{ id: string; r: string }>('SELECT id, to_json(t)::text AS r FROM ledger_rows t ORDER BY id')).rows;
      assert.deepEqual(rest, kept);
      const open = await stateClient.query<{ n: string }>('SELECT count(*) AS n FROM datakeep.lifecycle_archives WHERE removed_at IS NULL');
      assert.equal(open.rows[0]!.n, '0');
    } finally {
      await dm.close();
    }
  });
});

/** Ids of every row in every completed archive (read through a DataManager on the same config). */
async function archivedIds(config: Record<string, unknown>, _dir: string): Promise<Set<string>> {
  const dm = new DataManager({ config: { ...config, logLevel: 'error' } as never });
  await dm.initialize();
  try {
    const ids = new Set<string>();
    for (const archive of await dm.lifecycle.archives.list()) {
      const shown = await dm.lifecycle.archives.show(archive.archiveId, { limit: 1_000_000 });
      for (const record of shown.sample) ids.add(String((JSON.parse(record) as { id: number | string }).id));
    }
    return ids;
  } finally {
    await dm.close();
  }
}
