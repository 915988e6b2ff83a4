// The shared setup of test/backup/pitr-defects-*.test.ts (the point-in-time recovery defects of issue 9): one
// cluster archiving through `datakeep wal push`, a full and an incremental backup around known rows (a, b1 | b2, c, d),
// a restore point and the WAL switched and archived. The tests were one file; they are three so that CI runs them
// side by side, each file with a cluster of its own built the same way. The values are ESM live bindings, set by
// the `before` hook that usePitrDefectsFixture() registers in the calling describe().
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before } from 'node:test';
import pg from 'pg';
import { DataManager } from '../../src/index.js';
import { datakeepCommandLine } from '../../src/util/datakeep-command-line.js';
import { openRepository } from '../../src/repository/index.js';
import { startBackupCluster } from './datakeep-backup-cluster.js';
import { freePort } from './free-port.js';
import { PG_BIN_DIR, type ThrowawayPostgres } from './throwaway-postgres.js';

export const DB = 'app';
export let cluster: ThrowawayPostgres;
export let work: string;
export let destination: string;
export let passphraseFile: string;
export let configFile: string;
export let dm: DataManager;
export const started = new Set<string>();
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What the source's clock says now: recovery_target_time is compared with commit times written by the server. */
async function serverNow(): Promise<Date> {
  const [row] = await cluster.query<{ now: Date }>('SELECT clock_timestamp() AS now');
  return new Date(row!.now);
}

async function insert(note: string, rows = 20): Promise<void> {
  await cluster.query(`INSERT INTO t (note) SELECT $1 FROM generate_series(1, ${rows})`, [note]);
}

/** The notes a restored server holds, with their counts. */
export async function notesOn(port: number): Promise<Record<string, number>> {
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

export async function stopRestored(dir: string): Promise<void> {
  if (existsSync(join(dir, 'postmaster.pid'))) await pgCtl(['stop', '-D', dir, '-m', 'immediate', '-w', '-t', '30']);
  started.delete(dir);
}

/** Runs the datakeep CLI as a new user would, with no passphrase in the environment unless given. */
export function cli(args: string[], env: Record<string, string> = {}, timeoutMs = 240_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
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

export async function restoreAndRead(options: Parameters<DataManager['restoreBackup']>[1] & object, backupId?: string): Promise<{ notes: Record<string, number>; base: string; note: string | undefined }> {
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

export const repoPath = () => join(destination, DB);
export async function sourceWal(): Promise<string[]> {
  const repository = await openRepository(repoPath(), { passphrase: readFileSync(passphraseFile, 'utf8').trim() });
  try {
    return await repository.listWal();
  } finally {
    await repository.close();
  }
}

export let full: string;
export let incremental: string;
export let midTime: Date;
export let midLsn: string;
export let fullStop: Date;
export let switchLsn: string;

/** Registers the setup and teardown in the calling describe(); `name` labels the cluster's temp directory. */
export function usePitrDefectsFixture(name: string): void {
  before(async () => {
    const setup = await startBackupCluster(name, DB);
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
}
