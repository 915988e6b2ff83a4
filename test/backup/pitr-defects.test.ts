// Regression tests for the point-in-time recovery defects of issue 9, each on a real cluster archiving through
// `datakeep wal push` (archive_command), restored and started as a user would: through the library and the CLI.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { DataManager } from '../../src/index.js';
import { datakeepCommandLine } from '../../src/util/datakeep-command-line.js';
import { PostgresBackupError } from '../../src/engines/postgres/backup/postgres-backup-error.js';
import { UsageError } from '../../src/errors/index.js';
import { openRepository } from '../../src/repository/index.js';
import { startBackupCluster } from '../support/datakeep-backup-cluster.js';
import { freePort } from '../support/free-port.js';
import { PG_BIN_DIR, type ThrowawayPostgres } from '../support/throwaway-postgres.js';

const DB = 'app';
let cluster: ThrowawayPostgres;
let work: string;
let destination: string;
let passphraseFile: string;
let configFile: string;
let dm: DataManager;
const started = new Set<string>();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What the source's clock says now: recovery_target_time is compared with commit times written by the server. */
async function serverNow(): Promise<Date> {
  const [row] = await cluster.query<{ now: Date }>('SELECT clock_timestamp() AS now');
  return new Date(row!.now);
}

async function insert(note: string, rows = 20): Promise<void> {
  await cluster.query(`INSERT INTO t (note) SELECT $1 FROM generate_series(1, ${rows})`, [note]);
}

/** The notes a restored server holds, with their counts. */
async function notesOn(port: number): Promise<Record<string, number>> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    const rows = (await client.query<{ note: string; n: number }>('SELECT note, count(*)::int AS n FROM t GROUP BY note ORDER BY note')).rows;
    assert.equal((await client.query('SELECT pg_is_in_recovery() AS r')).rows[0].r, false, 'the restored server promoted');
    return Object.fromEntries(rows.map((r) => [r.note, r.n]));
  } finally {
    await client.end();
  }
}

function pgCtl(args: string[]): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn('runuser', ['-u', 'postgres', '--', join(PG_BIN_DIR, 'pg_ctl'), ...args], { cwd: '/', stdio: 'ignore' });
    child.on('close', () => resolve());
  });
}

async function stopRestored(dir: string): Promise<void> {
  if (existsSync(join(dir, 'postmaster.pid'))) await pgCtl(['stop', '-D', dir, '-m', 'immediate', '-w', '-t', '30']);
  started.delete(dir);
}

/** Runs the datakeep CLI as a new user would, with no passphrase in the environment unless given. */
function cli(args: string[], env: Record<string, string> = {}, timeoutMs = 240_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const [command, ...prefix] = datakeepCommandLine();
  const base = { ...process.env };
  delete base.DATAKEEP_REPO_PASSPHRASE;
  delete base.DATAKEEP_REPO_PASSPHRASE_FILE;
  return new Promise((resolve, reject) => {
    const child = spawn(command!, [...prefix, ...args], { cwd: work, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function restoreAndRead(options: Parameters<DataManager['restoreBackup']>[1] & object, backupId?: string): Promise<{ notes: Record<string, number>; base: string; note: string | undefined }> {
  const port = await freePort('127.0.0.1');
  const to = options.to ?? join(work, `r-${Math.random().toString(36).slice(2)}`);
  started.add(to);
  const result = await dm.restoreBackup(backupId, { ...options, to, start: { port } });
  try {
    return { notes: await notesOn(port), base: result.backupId, note: result.note };
  } finally {
    await stopRestored(to);
    rmSync(to, { recursive: true, force: true });
  }
}

const repoPath = () => join(destination, DB);
async function sourceWal(): Promise<string[]> {
  const repository = await openRepository(repoPath(), { passphrase: readFileSync(passphraseFile, 'utf8').trim() });
  try {
    return await repository.listWal();
  } finally {
    await repository.close();
  }
}

let full: string;
let incremental: string;
let midTime: Date;
let midLsn: string;
let fullStop: Date;
let switchLsn: string;

describe('point-in-time recovery defects (issue 9)', () => {
  before(async () => {
    const setup = await startBackupCluster('pitr-defects', DB);
    ({ cluster, work, destination, passphraseFile } = setup);
    configFile = join(work, 'datakeep.config.json');
    writeFileSync(configFile, JSON.stringify({
      databases: [{ ...cluster.config, id: DB }],
      logLevel: 'error',
      // The state store (audit log, drill records) in the source cluster, not in ./.datakeep of the checkout.
      state: { url: cluster.url },
      backups: { destination, passphraseFile },
    }));
    dm = new DataManager({ configFile });
    await dm.initialize();
    await cluster.query('CREATE TABLE t (id serial PRIMARY KEY, note text NOT NULL)');
    await insert('a');
    const backupConfig = { type: 'full' as const, destination, compression: true, encryption: true, retention: { daily: 7 } };
    full = (await dm.createBackup(backupConfig)).backupId;
    fullStop = new Date(String((await dm.backups.listBackups()).at(-1)!.metadata.stopTime));
    await sleep(1100);
    await insert('b1');
    await sleep(1100);
    midTime = await serverNow();
    midLsn = (await cluster.query<{ lsn: string }>("SELECT pg_current_wal_lsn()::text AS lsn, pg_create_restore_point('before-b2')"))[0]!.lsn;
    await sleep(1100);
    await insert('b2');
    await sleep(1100);
    incremental = (await dm.createBackup({ ...backupConfig, type: 'incremental' })).backupId;
    await insert('c');
    // A commit after c lets a target just after c be reached; the switch archives it all.
    await sleep(1100);
    await insert('d', 1);
    const switched = (await cluster.query<{ name: string; lsn: string }>('SELECT pg_walfile_name(pg_current_wal_lsn()) AS name, pg_switch_wal()::text AS lsn'))[0]!;
    const current = switched.name;
    switchLsn = switched.lsn;
    const deadline = Date.now() + 60_000;
    while (((await cluster.query<{ seg: string | null }>('SELECT last_archived_wal AS seg FROM pg_stat_archiver'))[0]!.seg ?? '') < current) {
      if (Date.now() > deadline) throw new Error(`${current} not archived after 60 s\n${cluster.logTail()}`);
      await sleep(200);
    }
  });
  after(async () => {
    for (const dir of [...started]) await stopRestored(dir);
    await dm?.close().catch(() => undefined);
    await cluster?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  it('2. a target before the asked-for incremental restores from its ancestor, and says so (ISO Z from Date.toISOString())', async () => {
    const result = await restoreAndRead({ targetTime: midTime.toISOString() }, incremental);
    assert.equal(result.base, full);
    assert.match(result.note ?? '', new RegExp(`backup ${incremental} is consistent only from .* ancestor ${full}`));
    assert.deepEqual(result.notes, { a: 20, b1: 20 });
  });

  it('2. target LSN and target name with no id pick the newest backup consistent before them', async () => {
    const byLsn = await restoreAndRead({ targetLsn: midLsn });
    assert.equal(byLsn.base, full);
    assert.deepEqual(byLsn.notes, { a: 20, b1: 20 });
    const byName = await restoreAndRead({ targetName: 'before-b2' });
    assert.equal(byName.base, full);
    assert.deepEqual(byName.notes, { a: 20, b1: 20 });
  });

  it('2. a target before every backup, after the archive, or in the future is refused before anything is written', async () => {
    const to = join(work, 'never-written');
    const before = new Date(fullStop.getTime() - 60_000);
    await assert.rejects(dm.restoreBackup(undefined, { to, targetTime: before }), (e: unknown) => e instanceof PostgresBackupError && e.reason === 'target-unreachable' && /no backup in the repository is consistent before it/.test(e.message));
    await assert.rejects(dm.restoreBackup(incremental, { to, targetTime: before }), (e: unknown) => e instanceof PostgresBackupError && e.reason === 'target-unreachable');
    await assert.rejects(dm.restoreBackup(undefined, { to, targetTime: new Date(Date.now() + 3_600_000) }), /in the future/);
    await assert.rejects(dm.restoreBackup(undefined, { to, targetTime: new Date(Date.now() - 200) }), (e: unknown) => e instanceof PostgresBackupError && /after the last transaction in the archive/.test(e.message) && /recoverability window is/.test(e.message));
    await assert.rejects(dm.restoreBackup(undefined, { to, targetLsn: 'FF/0' }), /past the end of the archived WAL/);
    // Inside the archived range, but after its last record (the rest of the switched segment is empty).
    await assert.rejects(dm.restoreBackup(undefined, { to, targetLsn: switchLsn }), /lies after the last WAL record in the archive/);
    await assert.rejects(dm.restoreBackup(undefined, { to, targetTimeline: 7 }), (e: unknown) => e instanceof UsageError && /timeline 7 is not in the archive/.test(e.message));
    await assert.rejects(dm.restoreBackup(undefined, { to, targetName: 'no such point' }), /no restore point "no such point"/);
    assert.equal(existsSync(to), false);
  });

  it('3. target times: offsets and zones become one instant; bad or zone-less times are refused with the field named', async () => {
    const to = join(work, 'never-written-3');
    await assert.rejects(dm.restoreBackup(undefined, { to, targetTime: '2026-13-45 99:99:99+00' }), (e: unknown) => e instanceof UsageError && /targetTime/.test(e.message));
    await assert.rejects(dm.restoreBackup(undefined, { to, targetTime: 'garbage' }), (e: unknown) => e instanceof UsageError && /targetTime/.test(e.message));
    const wall = new Intl.DateTimeFormat('sv-SE', { timeZone: 'America/New_York', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', fractionalSecondDigits: 3, hourCycle: 'h23' }).format(midTime).replace(',', '.');
    await assert.rejects(dm.restoreBackup(undefined, { to, targetTime: wall }), (e: unknown) => e instanceof UsageError && /no time zone/.test(e.message) && /timeZone/.test(e.message));
    assert.equal(existsSync(to), false);
    const zoned = await restoreAndRead({ targetTime: wall, timeZone: 'America/New_York' });
    assert.deepEqual(zoned.notes, { a: 20, b1: 20 });
    const garbage = await cli(['restore', '--config', configFile, '--to', to, '--target-time', 'garbage']);
    assert.equal(garbage.code, 2, garbage.stderr);
    assert.match(garbage.stderr, /--target-time: "garbage"/);
    const abbreviation = await cli(['restore', '--config', configFile, '--to', to, '--target-time', '2026-12-02 01:39:22 IST']);
    assert.equal(abbreviation.code, 2, abbreviation.stderr);
    assert.match(abbreviation.stderr, /abbreviation/);
    const twoPorts = await cli(['restore', '--config', configFile, '--to', to, '--port', '5999', '--start-port', '5998']);
    assert.equal(twoPorts.code, 2, twoPorts.stderr);
    assert.match(twoPorts.stderr, /--port: 5999 differs from --start-port 5998/);
  });

  it('1. a restored, promoted cluster does not archive into its source (archiving off, its backup\'s timeline)', async () => {
    const before = await sourceWal();
    const port = await freePort('127.0.0.1');
    const to = join(work, 'promoted');
    started.add(to);
    const result = await dm.restoreBackup(undefined, { to, targetTime: midTime, start: { port } });
    assert.ok(result.recoverySettings.includes("archive_mode = 'off'"), result.recoverySettings.join('\n'));
    assert.ok(result.recoverySettings.includes("recovery_target_timeline = '1'"), result.recoverySettings.join('\n'));
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
    await client.connect();
    await client.query("INSERT INTO t (note) VALUES ('written on the copy')");
    await client.query('SELECT pg_switch_wal()');
    await client.end();
    await sleep(1500);
    await stopRestored(to);
    const after = await sourceWal();
    assert.deepEqual(after.filter((n) => !before.includes(n) && (n.endsWith('.history') || !n.startsWith('00000001'))), [], 'no other timeline reached the source repository');
    // A restore of everything still follows the source's own history.
    const latest = await restoreAndRead({});
    assert.deepEqual(latest.notes, { a: 20, b1: 20, b2: 20, c: 20, d: 1 });
  });

  it('1. archiveTo gives the restored cluster a repository of its own', async () => {
    const own = join(work, 'copy-repo');
    const port = await freePort('127.0.0.1');
    const to = join(work, 'archiving-copy');
    started.add(to);
    const result = await dm.restoreBackup(undefined, { to, targetTime: midTime, start: { port }, archiveTo: own });
    assert.ok(result.recoverySettings.some((l) => l.startsWith('archive_command') && l.includes(own)));
    await assert.rejects(dm.restoreBackup(undefined, { to: join(work, 'x'), archiveTo: repoPath() }), /is \(or holds\) the repository being restored from/);
    symlinkSync(repoPath(), join(work, 'link-to-source'));
    await assert.rejects(dm.restoreBackup(undefined, { to: join(work, 'x'), archiveTo: join(work, 'link-to-source') }), /is \(or holds\) the repository being restored from/);
    await assert.rejects(dm.restoreBackup(undefined, { to: join(work, 'x'), archiveTo: destination }), /the repository being restored from|the backup destination itself/);
    assert.equal(existsSync(join(work, 'x')), false);
    await stopRestored(to);
  });

  it('4, 6. list, verify and restore work with the source stopped, taking the passphrase from the config file or --passphrase-file', async () => {
    await cluster.stop();
    try {
      const list = await cli(['backup', 'list', '--config', configFile]);
      assert.equal(list.code, 0, list.stderr);
      assert.match(list.stdout, new RegExp(incremental));
      assert.match(list.stdout, /recoverable on timeline 1 from/);
      const samples = await dm.backups.windowMetrics();
      const start = samples.find((m) => m.name === 'datakeep_backup_recovery_window_start_seconds');
      const end = samples.find((m) => m.name === 'datakeep_backup_recovery_window_end_seconds');
      assert.ok(start && end && start.labels.database === DB && start.value <= fullStop.getTime() / 1000 + 1 && end.value > midTime.getTime() / 1000, JSON.stringify(samples));
      const verify = await cli(['backup', 'verify', incremental, '--config', configFile]);
      assert.equal(verify.code, 0, verify.stderr);
      assert.match(verify.stdout, /^ok: /m);
      const bare = join(work, 'bare.config.json');
      writeFileSync(bare, JSON.stringify({ databases: [{ ...cluster.config, id: DB }], backups: { destination } }));
      const noPassphrase = await cli(['backup', 'list', '--config', bare]);
      assert.equal(noPassphrase.code, 2, noPassphrase.stderr);
      const withFlag = await cli(['backup', 'list', '--config', bare, '--passphrase-file', passphraseFile]);
      assert.equal(withFlag.code, 0, withFlag.stderr);
      const port = await freePort('127.0.0.1');
      const to = join(work, 'while-down');
      started.add(to);
      const restore = await cli(['restore', '--config', configFile, '--to', to, '--target-time', midTime.toISOString(), '--start-port', String(port)]);
      assert.equal(restore.code, 0, restore.stderr);
      assert.deepEqual(await notesOn(port), { a: 20, b1: 20 });
      await stopRestored(to);
    } finally {
      await cluster.start();
    }
  });

  it('5. the printed start command works with the passphrase from the environment, on the port asked for', async () => {
    const bare = join(work, 'env.config.json');
    writeFileSync(bare, JSON.stringify({ databases: [{ ...cluster.config, id: DB }], backups: { destination } }));
    const port = await freePort('127.0.0.1');
    const to = join(work, 'printed');
    const restore = await cli(['restore', '--config', bare, '--to', to, '--target-time', midTime.toISOString(), '--port', String(port)], { DATAKEEP_REPO_PASSPHRASE: readFileSync(passphraseFile, 'utf8').trim() });
    assert.equal(restore.code, 0, restore.stderr);
    const command = /^start it with: (.+)$/m.exec(restore.stdout)?.[1];
    assert.ok(command, restore.stdout);
    assert.ok(existsSync(join(to, 'datakeep_restore_passphrase')));
    assert.equal(statSync(join(to, 'datakeep_restore_passphrase')).mode & 0o777, 0o600);
    started.add(to);
    await new Promise<void>((resolve, reject) => {
      const child = spawn('sh', ['-c', command], { cwd: '/', stdio: 'ignore' });
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`"${command}" exited ${String(code)}`))));
    });
    const deadline = Date.now() + 120_000;
    let notes: Record<string, number> | undefined;
    while (!notes && Date.now() < deadline) {
      notes = await notesOn(port).catch(() => undefined);
      if (!notes) await sleep(300);
    }
    assert.deepEqual(notes, { a: 20, b1: 20 });
    assert.equal(existsSync(join(to, 'datakeep_restore_passphrase')), false, 'recovery_end_command removed the passphrase file');
    assert.doesNotMatch(restore.stdout + restore.stderr, new RegExp(readFileSync(passphraseFile, 'utf8').trim()));
    await stopRestored(to);
  });

  it('7. the default restore location works as root, and a location the server cannot enter is refused first', async () => {
    const result = await restoreAndRead({ targetTime: midTime, to: undefined });
    assert.deepEqual(result.notes, { a: 20, b1: 20 });
    // Missing parents are created so that the server can pass; spaces and quotes in the path survive pg_ctl's shell.
    const odd = await restoreAndRead({ targetTime: midTime, to: join(work, 'new parent', "it's here") });
    assert.deepEqual(odd.notes, { a: 20, b1: 20 });
    if (process.getuid?.() === 0) {
      const privateDir = mkdtempSync(join(tmpdir(), 'dk-private-'));
      try {
        await assert.rejects(dm.restoreBackup(undefined, { to: join(privateDir, 'restored') }), (e: unknown) => e instanceof PostgresBackupError && e.reason === 'unsafe-destination' && e.message.includes(`cannot enter ${privateDir}`));
        assert.deepEqual(readdirSync(privateDir), []);
      } finally {
        rmSync(privateDir, { recursive: true, force: true });
      }
    }
  });

  it('9, 12. a restore that fails at start removes what it wrote; the CLI prints the whole error; the retry works', async () => {
    const to = join(work, 'fails-at-start');
    // The source's own port is taken: the restored server cannot bind and stops.
    const failed = await cli(['restore', '--config', configFile, '--to', to, '--target-time', midTime.toISOString(), '--start-port', String(cluster.port)]);
    assert.equal(failed.code, 1, failed.stderr);
    assert.match(failed.stderr, /server log/);
    assert.match(failed.stderr, /was removed, so the same restore can be retried/);
    assert.equal(existsSync(to), false);
    const kept = await dm.restoreBackup(undefined, { to, targetTime: midTime, start: { port: cluster.port }, keepFailed: true }).then(() => undefined, (e: unknown) => e as Error);
    assert.match(kept?.message ?? '', /is kept in/);
    assert.ok(existsSync(join(to, 'PG_VERSION')));
    rmSync(to, { recursive: true, force: true });
    const retry = await restoreAndRead({ to, targetTime: midTime });
    assert.deepEqual(retry.notes, { a: 20, b1: 20 });
  });

  it('9. a restore killed half-way leaves a marked directory that the next restore clears and reuses', async () => {
    const to = join(work, 'killed-midway');
    const [command, ...prefix] = datakeepCommandLine();
    const child = spawn(command!, [...prefix, 'restore', '--config', configFile, '--to', to, '--target-time', midTime.toISOString()], { cwd: work, stdio: 'ignore' });
    const deadline = Date.now() + 120_000;
    while (!(existsSync(join(to, '.datakeep-restore-incomplete')) && existsSync(join(to, 'base'))) && Date.now() < deadline) await sleep(20);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('close', resolve));
    assert.ok(existsSync(join(to, '.datakeep-restore-incomplete')), 'the killed restore left its marker');
    const retry = await restoreAndRead({ to, targetTime: midTime });
    assert.deepEqual(retry.notes, { a: 20, b1: 20 });
  });

  it('12. restore progress is counted in bytes up to the total', async () => {
    const seen: { phase: string; bytesDone: number; bytesTotal: number }[] = [];
    const to = join(work, 'progress');
    started.add(to);
    await dm.restoreBackup(undefined, { to, targetTime: midTime, onProgress: (p) => seen.push(p) });
    const last = seen.at(-1)!;
    assert.equal(last.phase, 'done');
    assert.ok(last.bytesTotal > 10_000_000 && last.bytesDone === last.bytesTotal, JSON.stringify(last));
    assert.ok(seen.some((p) => p.phase === 'checking-wal'));
    rmSync(to, { recursive: true, force: true });
  });

  it('8. a new full does not expire the chain the default recovery window still needs', async () => {
    const result = await dm.createBackup({ type: 'full', destination, compression: true, encryption: true, retention: { daily: 1 } });
    assert.deepEqual(result.expired[0]!.expired, []);
    assert.match(result.expired[0]!.window.description, /window/i);
    const restored = await restoreAndRead({ targetTime: midTime });
    assert.deepEqual(restored.notes, { a: 20, b1: 20 });
  });

  it('restore drills: the newest backup and a random point of the window, checked, recorded, removed', async () => {
    let seed = 7;
    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const [report] = await dm.backups.drill({ checks: { sql: 'SELECT count(*) >= 20 FROM t' }, random });
    assert.ok(report, 'one report for the one database');
    assert.equal(report.ok, true, JSON.stringify(report));
    assert.deepEqual(report.runs.map((r) => r.kind), ['latest', 'point-in-time']);
    assert.ok(report.runs[0]!.tables.some((t) => t.name === 'public.t' && t.rows === 81), JSON.stringify(report.runs[0]!.tables));
    assert.ok(report.runs.every((r) => r.check?.ok === true));
    // Only a boolean true passes: 1 is not an answer.
    const [failing] = await dm.backups.drill({ checks: { sql: 'SELECT 1' }, pointInTime: false });
    assert.equal(failing!.ok, false);
    const audit = await (await dm.state()).auditLog(5);
    assert.deepEqual(audit.filter((a) => a.action === 'backup.drill').map((a) => (a.details as { ok: boolean }).ok), [false, true]);
    assert.deepEqual(readdirSync(tmpdir()).filter((n) => n.startsWith('datakeep-drill-')), [], 'scratch directories removed');
    const scheduled = await dm.backups.setupDrills({ schedule: '0 4 * * 0', checks: { sql: 'SELECT true' } });
    assert.ok(scheduled.nextRun instanceof Date && scheduled.nextRun.getUTCDay() === 0, String(scheduled.nextRun));
    const rows = await (await dm.state()).adapter.query<{ kind: string; cron: string }>("SELECT kind, cron FROM datakeep.schedules WHERE kind = 'drill'");
    assert.deepEqual(rows.map((r) => [r.kind, r.cron]), [['drill', '0 4 * * 0']]);
  });

  it('10. a damaged archived segment fails verify, wal check and the pre-restore check, before anything is written', async () => {
    // The segment holding the mid target: needed by every restore to it.
    const name = (await cluster.query<{ name: string }>('SELECT pg_walfile_name($1::pg_lsn) AS name', [midLsn]))[0]!.name;
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (entry.isDirectory()) walk(join(dir, entry.name));
        else if (entry.name === name) files.push(join(dir, entry.name));
      }
    };
    walk(join(repoPath(), 'wal'));
    assert.equal(files.length, 1, `stored ${name}`);
    const bytes = readFileSync(files[0]!);
    const middle = Math.floor(bytes.length / 2);
    bytes[middle] = bytes[middle]! ^ 0xff;
    writeFileSync(files[0]!, bytes);
    const verify = await dm.backups.verifyBackup(full);
    assert.equal(verify.ok, false);
    assert.ok(verify.problems.some((p) => p.kind === 'corrupt-wal' && p.message.includes(name)), JSON.stringify(verify.problems));
    const check = await cli(['wal', 'check', '--repo', repoPath(), '--passphrase-file', passphraseFile]);
    assert.equal(check.code, 1, check.stdout + check.stderr);
    assert.match(check.stdout, new RegExp(`damaged segments.*${name}`));
    const to = join(work, 'never-written-10');
    await assert.rejects(dm.restoreBackup(full, { to, targetTime: midTime }), (e: unknown) => e instanceof PostgresBackupError && e.reason === 'backup-corrupt' && e.message.includes(name));
    assert.equal(existsSync(to), false);
  });
});
