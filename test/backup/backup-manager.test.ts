import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DataManager } from '../../src/index.js';
import { startBackupCluster } from '../support/datakeep-backup-cluster.js';
import type { ThrowawayPostgres } from '../support/throwaway-postgres.js';
import { freePort } from '../support/free-port.js';

describe("DataManager backups (the seed's Backup and Recovery example, and PITR)", () => {
  let cluster: ThrowawayPostgres;
  let work: string;
  let destination: string;
  let dataManager: DataManager;
  const previousCwd = process.cwd();
  const previousEnv = process.env.DATAKEEP_REPO_PASSPHRASE_FILE;

  before(async () => {
    const setup = await startBackupCluster('seed-backup', 'app');
    ({ cluster, work, destination } = setup);
    process.env.DATAKEEP_REPO_PASSPHRASE_FILE = setup.passphraseFile;
    process.chdir(work);
    dataManager = new DataManager({ config: { databases: [{ ...cluster.config, id: 'app' }], state: { url: cluster.url }, logLevel: 'error' } });
    await dataManager.initialize();
    await dataManager.execute('CREATE TABLE orders (id serial PRIMARY KEY, note text, at timestamptz DEFAULT clock_timestamp())');
    await dataManager.execute("INSERT INTO orders (note) SELECT 'before ' || g FROM generate_series(1, 1000) g");
  });
  after(async () => {
    await dataManager?.close();
    process.chdir(previousCwd);
    if (previousEnv === undefined) delete process.env.DATAKEEP_REPO_PASSPHRASE_FILE;
    else process.env.DATAKEEP_REPO_PASSPHRASE_FILE = previousEnv;
    await cluster?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  it('runs the seed example: createBackup with compression, encryption and retention; setupBackups; restoreBackup', async () => {
    // As written in the seed:
    const backupResult = await dataManager.createBackup({
      type: 'full',
      destination: './backups',
      compression: true,
      encryption: true,
      retention: {
        daily: 7,
        weekly: 4,
        monthly: 12,
        yearly: 5
      }
    });
    const backupConfig = { type: 'full' as const, destination: './backups', compression: true, encryption: true, retention: { daily: 7, weekly: 4, monthly: 12, yearly: 5 } };
    await dataManager.setupBackups({
      ...backupConfig,
      schedule: '0 2 * * *' // Daily at 2 AM
    });
    await dataManager.restoreBackup(backupResult.backupId);

    assert.match(backupResult.backupId, /\S/);
    assert.equal(backupResult.type, 'full');
    assert.ok(backupResult.sizeBytes > 10_000_000, `size ${backupResult.sizeBytes}`);
    assert.ok(backupResult.storedBytes > 0 && backupResult.storedBytes < backupResult.sizeBytes, `stored ${backupResult.storedBytes} of ${backupResult.sizeBytes}`);
    assert.ok(backupResult.finishedAt >= backupResult.startedAt);
    const list = await dataManager.backups.listBackups();
    assert.deepEqual(list.map((b) => b.backupId), [backupResult.backupId]);
    const restores = join(destination, 'restores');
    const { readdirSync, existsSync } = await import('node:fs');
    const [restored] = readdirSync(restores);
    assert.ok(restored && existsSync(join(restores, restored, 'PG_VERSION')) && existsSync(join(restores, restored, 'recovery.signal')));
    const schedules = dataManager.backups && (await (await dataManager.state()).adapter.query<{ cron: string }>("SELECT cron FROM datakeep.schedules WHERE kind = 'backup'"));
    assert.deepEqual(schedules.map((s) => s.cron), ['0 2 * * *']);
  });

  it('point-in-time recovery to a chosen second through an incremental chain, picked by time', async () => {
    const [{ t }] = (await dataManager.query<{ t: Date }>("SELECT now() AS t")) as [{ t: Date }];
    await new Promise((r) => setTimeout(r, 1100));
    await dataManager.execute("INSERT INTO orders (note) VALUES ('at t1')");
    await new Promise((r) => setTimeout(r, 1100));
    const [{ target }] = (await dataManager.query<{ target: string }>("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00' AS target")) as [{ target: string }];
    await new Promise((r) => setTimeout(r, 1100));
    await dataManager.execute("INSERT INTO orders (note) VALUES ('at t2, after the target')");
    await dataManager.query('SELECT pg_switch_wal()');
    const incremental = await dataManager.createBackup({ type: 'incremental', destination: './backups', compression: true, encryption: true, retention: { daily: 7 } });
    assert.equal(incremental.type, 'incremental');
    assert.ok(incremental.storedBytes < incremental.sizeBytes / 5, `incremental stored ${incremental.storedBytes} of ${incremental.sizeBytes}`);
    // The target lies before the incremental finished: the full is the right base, picked automatically.
    await dataManager.query('SELECT pg_switch_wal()');
    await new Promise((r) => setTimeout(r, 1500));
    const port = await freePort('127.0.0.1');
    const to = join(work, 'pitr');
    const result = await dataManager.restoreBackup(undefined, { targetTime: target, to, start: { port } });
    assert.equal(result.started, true);
    const pg = (await import('pg')).default;
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
    await client.connect();
    try {
      const notes = (await client.query("SELECT note FROM orders WHERE note LIKE 'at %' ORDER BY id")).rows.map((r) => r.note);
      assert.deepEqual(notes, ['at t1']);
      assert.equal((await client.query('SELECT count(*)::int AS c FROM orders')).rows[0].c, 1001);
      assert.equal((await client.query('SELECT pg_is_in_recovery() AS r')).rows[0].r, false);
    } finally {
      await client.end();
      const { execFileSync } = await import('node:child_process');
      execFileSync('runuser', ['-u', 'postgres', '--', '/usr/lib/postgresql/15/bin/pg_ctl', 'stop', '-D', to, '-m', 'immediate', '-w'], { cwd: '/' });
    }
    void t;
  });

  it('refuses a restore into a directory that is not empty, and unknown ids, with clear errors', async () => {
    await assert.rejects(dataManager.restoreBackup('no-such-backup'), /no completed backup "no-such-backup"/);
    await assert.rejects(dataManager.restoreBackup(undefined, { to: cluster.dataDir }), /running|not empty|empty/i);
  });
});
