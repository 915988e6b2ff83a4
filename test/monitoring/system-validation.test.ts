// validateSystem() and the Prometheus series against real servers: a throwaway PostgreSQL cluster archiving WAL into
// datakeep's repository (with max_prepared_transactions, which the shared server lacks), the state store in a fresh
// database on 127.0.0.1:5432, and real faults: an edited config file, a state schema from a newer datakeep, an
// edited applied migration, a backup older than its schedule, a WAL segment lost from the archive, a failed drill, a
// prepared transaction left in doubt. Each check turns to warn or error for its reason and back to ok once fixed.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DataManager } from '../../src/data-manager.js';
import type { SystemCheck } from '../../src/monitoring/system-check.js';
import type { SystemValidation } from '../../src/monitoring/system-validation.js';
import { openRepository } from '../../src/repository/index.js';
import { silentLogger } from '../../src/util/logger.js';
import { runCliCaptured } from '../support/cli-run.js';
import { startBackupCluster } from '../support/datakeep-backup-cluster.js';
import { assertMetricConventions } from '../support/metric-conventions.js';
import { parseExposition } from '../support/parse-exposition.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres-server.js';
import type { ThrowawayPostgres } from '../support/throwaway-postgres.js';

const DB = 'pg';
/** How long a state this test waits for may take to appear (archiving a segment, a per-second schedule falling behind). */
const WAIT_LIMIT_MS = 60_000;

describe('validateSystem: each check turns to warn/error for a real fault, and back to ok', () => {
  let cluster: ThrowawayPostgres;
  let work: string;
  let destination: string;
  let passphraseFile: string;
  let state: TestDatabase;
  let configFile: string;
  let configText: string;
  let migrations: string;
  let dm: DataManager;

  const backupConfig = (schedule: string) => ({ type: 'full' as const, destination, compression: true, encryption: true, passphraseFile, retention: { daily: 7 }, schedule });
  const validate = async (): Promise<SystemValidation> => dm.validateSystem();
  const check = (v: SystemValidation, name: string): SystemCheck => {
    const found = v.checks.find((c) => c.name === name);
    assert.ok(found, `no check ${name} in ${v.checks.map((c) => c.name).join(', ')}`);
    return found;
  };
  const metric = async (name: string, labels: Record<string, string> = { database_id: DB }): Promise<number | undefined> => {
    const families = parseExposition(await dm.monitoring.metricsText());
    return families.get(name)?.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
  };
  /** Polls `read` until `done` holds, for at most WAIT_LIMIT_MS; fails naming what was waited for. */
  const waitFor = async <T>(what: string, read: () => Promise<T>, done: (value: T) => boolean): Promise<T> => {
    const deadline = Date.now() + WAIT_LIMIT_MS;
    for (;;) {
      const value = await read();
      if (done(value)) return value;
      if (Date.now() > deadline) assert.fail(`${what}: not reached within ${WAIT_LIMIT_MS} ms; last: ${JSON.stringify(value)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  };

  before(async () => {
    ({ cluster, work, destination, passphraseFile } = await startBackupCluster('validate', DB, { config: ['max_prepared_transactions = 5'] }));
    state = await createTestDatabase('dk_validate_state');
    migrations = join(work, 'migrations');
    mkdirSync(migrations);
    writeFileSync(join(migrations, '20240101000000_create_notes.sql'), '-- up\nCREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL);\n-- down\nDROP TABLE notes;\n');
    configFile = join(work, 'datakeep.config.json');
    configText = JSON.stringify({
      databases: [{ ...cluster.config, id: DB }],
      state: { url: state.url },
      migrations: { directory: migrations },
      backups: { destination, passphraseFile, schedule: '0 * * * *' },
      transactions: { stalePreparedAfter: 600_000 },
    }, null, 2);
    writeFileSync(configFile, configText);
    dm = new DataManager({ configFile, logger: silentLogger });
    await dm.initialize();
    await dm.initializeMigrations({ directory: migrations });
    await dm.migrate();
  });
  after(async () => {
    await dm?.close().catch(() => undefined);
    await cluster?.destroy();
    await state?.drop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('names every check with a status and a detail, and keeps the seed\'s shape (valid, errors, warnings, checkedAt, ok, message)', async () => {
    const v = await validate();
    for (const c of v.checks) {
      assert.ok(['ok', 'warn', 'error', 'skipped'].includes(c.status), `${c.name}: ${c.status}`);
      assert.ok(c.detail.length > 0 && c.message === c.detail && c.ok === (c.status === 'ok' || c.status === 'skipped'), JSON.stringify(c));
    }
    for (const name of ['config', `connectivity:${DB}`, 'state-store', `migrations:${DB}`, `backup:age:${DB}`, `backup:drill:${DB}`, `transactions:prepare:${DB}`, `transactions:prepared:${DB}`, 'transactions:in-doubt']) check(v, name);
    assert.ok(v.checkedAt instanceof Date);
    assert.deepEqual(v.errors, v.checks.filter((c) => c.status === 'error').map((c) => `${c.name}: ${c.detail}`));
    assert.equal(v.valid, v.errors.length === 0);
    // No backup yet: the database is not protected.
    assert.equal(check(v, `backup:age:${DB}`).status, 'error');
    assert.match(check(v, `backup:age:${DB}`).detail, /no backup of pg yet/);
    assert.equal(check(v, `backup:drill:${DB}`).status, 'skipped');
    assert.equal(check(v, `transactions:prepare:${DB}`).status, 'ok');
    assert.equal(check(v, `migrations:${DB}`).status, 'ok');
    assert.match(check(v, `migrations:${DB}`).detail, /1 applied, 0 pending/);
  });

  it('config: an edit that no longer loads is an error, a changed but valid one a warning, the original ok', async () => {
    writeFileSync(configFile, configText.replace('"databases"', '"databasez"'));
    assert.equal(check(await validate(), 'config').status, 'error');
    assert.match(check(await validate(), 'config').detail, /loading it again fails/);
    writeFileSync(configFile, JSON.stringify({ ...JSON.parse(configText), logLevel: 'debug' }));
    const changed = check(await validate(), 'config');
    assert.equal(changed.status, 'warn');
    assert.match(changed.detail, /changed since this process started \(logLevel\)/);
    writeFileSync(configFile, configText);
    assert.equal(check(await validate(), 'config').status, 'ok');
  });

  it('state-store: a schema version from a newer datakeep is an error until it is gone', async () => {
    const store = await dm.state();
    await store.adapter.execute("INSERT INTO datakeep.state_schema (version, name) VALUES (9999, 'from a newer datakeep')");
    try {
      const c = check(await validate(), 'state-store');
      assert.equal(c.status, 'error');
      assert.match(c.detail, /9999 come from a newer datakeep/);
    } finally {
      await store.adapter.execute('DELETE FROM datakeep.state_schema WHERE version = 9999');
    }
    assert.equal(check(await validate(), 'state-store').status, 'ok');
  });

  it('migrations: an applied file edited on disk is an error (validateChecksums), restored it is ok; datakeep validate --json exits 1', async () => {
    const file = join(migrations, '20240101000000_create_notes.sql');
    const original = readFileSync(file, 'utf8');
    writeFileSync(file, original.replace('body text NOT NULL', 'body text'));
    try {
      const c = check(await validate(), `migrations:${DB}`);
      assert.equal(c.status, 'error');
      assert.match(c.detail, /20240101000000_create_notes\.sql was changed after it was applied/);
      const cli = await runCliCaptured(['validate', '--json'], configFile);
      assert.equal(cli.code, 1, cli.io.stderr.join('\n'));
      const printed = JSON.parse(cli.io.stdout.join('\n')) as SystemValidation;
      assert.equal(printed.valid, false);
      assert.equal(printed.checks.find((x) => x.name === `migrations:${DB}`)?.status, 'error');
    } finally {
      writeFileSync(file, original);
    }
    assert.equal(check(await validate(), `migrations:${DB}`).status, 'ok');
  });

  it('backup age: ok after a backup with an hourly schedule; an error once the (per-second) schedule has ticks without one; a new backup resets it and the age gauge', async () => {
    await dm.createBackup(backupConfig('0 * * * *'));
    let v = await validate();
    assert.equal(check(v, `backup:age:${DB}`).status, 'ok', check(v, `backup:age:${DB}`).detail);
    assert.equal(check(v, `backup:wal-archive:${DB}`).status, 'ok', check(v, `backup:wal-archive:${DB}`).detail);
    assert.equal(check(v, `backup:drill:${DB}`).status, 'warn');
    const firstSuccess = await metric('datakeep_backup_last_success_timestamp_seconds');
    assert.ok(firstSuccess !== undefined && firstSuccess > Date.now() / 1000 - 600);
    // The same backup against a schedule that expects one every second: it falls behind within seconds.
    await dm.createBackup(backupConfig('* * * * * *'));
    const behind = await waitFor('backup:age error against a per-second schedule', async () => check(await validate(), `backup:age:${DB}`), (c) => c.status === 'error');
    // Two missed ticks already make an error (one only warns); a slow machine may see 2 or 3 ("3 or more" is the cap).
    assert.match(behind.detail, /: (2|3 or more) scheduled backup\(s\) missing since /);
    const oldAge = await metric('datakeep_backup_age_seconds');
    assert.ok(oldAge !== undefined && oldAge > 0);
    await dm.createBackup(backupConfig('0 * * * *'));
    v = await validate();
    assert.equal(check(v, `backup:age:${DB}`).status, 'ok');
    const newAge = await metric('datakeep_backup_age_seconds');
    assert.ok(newAge !== undefined && newAge < oldAge, `age reset: ${newAge} < ${oldAge}`);
    assert.ok((await metric('datakeep_backup_last_success_timestamp_seconds'))! > firstSuccess);
    assert.equal(await metric('datakeep_backup_repository_backups'), 3);
  });

  it('WAL archive: a segment lost after the newest backup is a gap (error, gauge 1); a new full backup is ok again', async () => {
    const switched: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      await cluster.query(`CREATE TABLE IF NOT EXISTS wal_filler (n int); INSERT INTO wal_filler SELECT generate_series(1, 1000)`);
      switched.push((await cluster.query<{ name: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS name'))[0]!.name);
    }
    const passphrase = readFileSync(passphraseFile, 'utf8').trim();
    const repository = await openRepository(join(destination, DB), { passphrase });
    try {
      await waitFor('the switched segments in the repository', () => repository.listWal(), (names) => switched.every((s) => names.includes(s)));
      assert.equal(check(await validate(), `backup:wal-archive:${DB}`).status, 'ok');
      await repository.deleteWal([switched[1]!]);
    } finally {
      await repository.close?.();
    }
    const gap = check(await validate(), `backup:wal-archive:${DB}`);
    assert.equal(gap.status, 'error');
    assert.match(gap.detail, new RegExp(`WAL gap: ${switched[1]} is missing`));
    assert.equal(await metric('datakeep_wal_archive_gap'), 1);
    assert.equal(await metric('datakeep_wal_archive_failures_total'), 0);
    assert.ok((await metric('datakeep_wal_archive_last_archived_timestamp_seconds'))! > Date.now() / 1000 - 600);
    await dm.createBackup(backupConfig('0 * * * *'));
    assert.equal(check(await validate(), `backup:wal-archive:${DB}`).status, 'ok');
    assert.equal(await metric('datakeep_wal_archive_gap'), 0);
  });

  it('drills: a failed drill is an error (and gauge 0), a passing one ok (gauge 1)', async () => {
    const [failed] = await dm.backups.drill({ checks: { sql: 'SELECT false' }, pointInTime: false });
    assert.equal(failed!.ok, false);
    let c = check(await validate(), `backup:drill:${DB}`);
    assert.equal(c.status, 'error');
    assert.match(c.detail, /failed: latest: the check SELECT false returned false/);
    assert.equal(await metric('datakeep_backup_last_drill_success'), 0);
    const [passed] = await dm.backups.drill({ checks: { sql: 'SELECT true' }, pointInTime: false });
    assert.equal(passed!.ok, true);
    c = check(await validate(), `backup:drill:${DB}`);
    assert.equal(c.status, 'ok', c.detail);
    assert.equal(await metric('datakeep_backup_last_drill_success'), 1);
  });

  it('transactions: a transaction prepared by hand is in doubt (warning, gauge 1), an error once stale, ok (gauge 0) after COMMIT PREPARED', async () => {
    const gid = `validate-test-${process.pid}`;
    const client = new (await import('pg')).default.Client(cluster.config.url ?? { host: '127.0.0.1', port: cluster.port, user: 'postgres', database: 'postgres' });
    await client.connect();
    try {
      await client.query('CREATE TABLE IF NOT EXISTS tx_target (n int)');
      await client.query('BEGIN');
      await client.query('INSERT INTO tx_target VALUES (1)');
      await client.query(`PREPARE TRANSACTION '${gid}'`);
      const c = check(await validate(), `transactions:prepared:${DB}`);
      assert.equal(c.status, 'warn');
      assert.match(c.detail, new RegExp(`1 prepared transaction\\(s\\) in doubt.*${gid}`));
      assert.equal(await metric('datakeep_transactions_in_doubt', { database_id: DB, engine: 'postgresql' }), 1);
      const stale = new DataManager({ config: { ...JSON.parse(configText), transactions: { stalePreparedAfter: 0 } }, logger: silentLogger });
      await stale.initialize();
      try {
        await waitFor('the prepared transaction older than 0 s', async () => (await stale.validateSystem()).checks.find((x) => x.name === `transactions:prepared:${DB}`)!, (x) => x.status === 'error');
      } finally {
        await stale.close();
      }
      await client.query(`COMMIT PREPARED '${gid}'`);
    } finally {
      await client.query(`ROLLBACK PREPARED '${gid}'`).catch(() => undefined);
      await client.end();
    }
    assert.equal(check(await validate(), `transactions:prepared:${DB}`).status, 'ok');
    assert.equal(await metric('datakeep_transactions_in_doubt', { database_id: DB, engine: 'postgresql' }), 0);
  });

  it('every series follows the conventions, lifecycle and schedule-run counters included, and no id or statement leaks into a label', async () => {
    await cluster.query(`CREATE TABLE IF NOT EXISTS events (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL); INSERT INTO events (created_at) SELECT now() - interval '100 days' FROM generate_series(1, 25); INSERT INTO events (created_at) SELECT now() FROM generate_series(1, 5)`);
    await dm.setupLifecycleManagement({ retention: [{ table: 'events', retentionDays: 30, action: 'delete', schedule: '0 3 * * *' }] });
    const [run] = await dm.lifecycle.run();
    assert.equal(run!.rowsDeleted, 25);
    const v = await validate();
    assert.equal(check(v, 'lifecycle:retention:events').status, 'ok');
    const text = await dm.monitoring.metricsText();
    const families = parseExposition(text);
    assertMetricConventions(families);
    const value = (name: string, labels: Record<string, string>) => families.get(name)?.samples.find((s) => Object.entries(labels).every(([k, x]) => s.labels[k] === x))?.value;
    assert.equal(value('datakeep_lifecycle_rows_deleted_total', { database_id: DB, engine: 'postgresql' }), 25);
    assert.equal(value('datakeep_lifecycle_runs_total', { database_id: DB, outcome: 'done' }), 1);
    assert.equal(value('datakeep_schedule_runs_total', { kind: 'lifecycle', outcome: 'succeeded' }), 1);
    assert.equal(value('datakeep_database_up', { database_id: DB }), 1);
    for (const name of ['datakeep_backup_age_seconds', 'datakeep_backup_recovery_window_start_seconds', 'datakeep_backup_recovery_window_end_seconds', 'datakeep_wal_archive_segments_behind', 'datakeep_transactions_oldest_in_doubt_age_seconds']) {
      assert.ok(families.has(name), `${name} is exposed`);
    }
    const backups = await dm.backups.listBackups({ destination, passphraseFile });
    for (const b of backups) assert.ok(!text.includes(b.backupId), `backup id ${b.backupId} is not a label`);
    assert.doesNotMatch(text, /SELECT|INSERT|events|validate-test/);
  });

  it('datakeep validate: one line per check and exit 0 once nothing is in error', async () => {
    const cli = await runCliCaptured(['validate'], configFile);
    const out = cli.io.stdout.join('\n');
    assert.equal(cli.code, 0, out + cli.io.stderr.join('\n'));
    assert.match(out, new RegExp(`^ok +backup:wal-archive:${DB} +archived without a gap`, 'm'));
    assert.match(out, /^valid: \d+ checks, 0 error\(s\)/m);
  });
});
