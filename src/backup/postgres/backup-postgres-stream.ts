import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Repository } from '../../repository/repository-types.js';
import { UsageError } from '../../errors/index.js';
import { completePostgresBackup } from './complete-postgres-backup.js';
import { PostgresBackupError } from './postgres-backup-error.js';
import type { PostgresBackupProgress, PostgresBackupResult } from './postgres-backup-result.js';
import { withBackupSession } from './postgres-session.js';
import { readTar } from './read-tar.js';
import { readServerFacts } from './server-facts.js';

export interface PostgresStreamBackupOptions {
  /** Where the server listens; the role needs the REPLICATION attribute and a `replication` line in pg_hba.conf. */
  host: string;
  port: number;
  user: string;
  /** Passed to pg_basebackup through PGPASSWORD, never on its command line. */
  password?: string;
  repository: Repository;
  database: string;
  /** pg_basebackup to run; default: the one of the server's major version under /usr/lib/postgresql, else PATH. */
  pgBasebackup?: string;
  walTimeoutMs?: number;
  onProgress?: (progress: PostgresBackupProgress) => void;
  signal?: AbortSignal;
}

/**
 * A full backup over the replication protocol, for servers whose data directory this host cannot read: pg_basebackup
 * streams a tar of the data directory to stdout (`-D - -Ft -X none`), and each entry goes straight into the
 * repository (no temporary copy, no whole file in memory). The WAL comes from the archive as for any backup: the
 * backup completes only once every segment from start to stop is in the repository. A server with extra tablespaces
 * cannot stream to stdout (pg_basebackup's rule); back it up from its host with backupPostgres.
 */
export async function backupPostgresStream(options: PostgresStreamBackupOptions): Promise<PostgresBackupResult> {
  const connection = { host: options.host, port: options.port, user: options.user, password: options.password, database: 'postgres' };
  const facts = await withBackupSession(connection, readServerFacts);
  if (facts.archiveMode === 'off') {
    throw new PostgresBackupError('backup-failed', `the server has archive_mode = off, so the backup's WAL would never reach the repository; set archive_mode = on and archive_command = 'datakeep wal push %p' (restart needed)`);
  }
  const binary = options.pgBasebackup ?? defaultPgBasebackup(facts.versionNum);
  const writer = await options.repository.beginBackup({ type: 'full', database: options.database });
  const env: NodeJS.ProcessEnv = { ...process.env, PGAPPNAME: `datakeep backup ${writer.backupId}` };
  if (options.password !== undefined) env.PGPASSWORD = options.password;
  else delete env.PGPASSWORD;
  const child = spawn(binary, [
    '-h', options.host, '-p', String(options.port), '-U', options.user, '-w',
    '-D', '-', '-Ft', '-X', 'none', '-c', 'fast', '-v', '-l', `datakeep ${writer.backupId}`,
  ], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let stderr = '';
  child.stderr.on('data', (data: Buffer) => {
    stderr = (stderr + data.toString('utf8')).slice(-16_000);
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
  exited.catch(() => undefined);

  const counters = { filesTotal: 0, filesDone: 0, filesReused: 0, bytesDone: 0, bytesStored: 0 };
  const report = (update: Partial<PostgresBackupProgress> & Pick<PostgresBackupProgress, 'phase'>) => {
    try {
      options.onProgress?.({ backupId: writer.backupId, ...counters, ...update });
    } catch {
      // A progress display must never break a backup.
    }
  };
  try {
    report({ phase: 'starting' });
    let labelFile: string | undefined;
    let tablespaceMap = '';
    let backupManifest: string | undefined;
    const directories: { path: string; mode: number }[] = [];
    for await (const entry of readTar(child.stdout)) {
      options.signal?.throwIfAborted();
      if (entry.type === 'directory') {
        directories.push({ path: entry.path, mode: entry.mode });
      } else if (entry.type === 'file') {
        // The label and the map belong to the manifest (restore writes them itself), as with pg_backup_stop.
        if (entry.path === 'backup_label') labelFile = await text(entry.body);
        else if (entry.path === 'tablespace_map') tablespaceMap = await text(entry.body);
        else if (entry.path === 'backup_manifest') backupManifest = await text(entry.body);
        else {
          const stored = await writer.addFile(entry.path, entry.body, { size: entry.size, mtimeMs: entry.mtimeMs, mode: entry.mode });
          counters.filesDone += 1;
          counters.filesTotal += 1;
          counters.bytesDone += stored.size;
          report({ phase: 'copying' });
        }
      }
    }
    const code = await exited;
    if (code !== 0) throw new PostgresBackupError('backup-failed', `pg_basebackup exited with code ${String(code)}: ${stderr.trim().slice(-2000)}`);
    if (labelFile === undefined) throw new PostgresBackupError('backup-failed', `pg_basebackup's tar stream had no backup_label; output: ${stderr.trim().slice(-2000)}`);
    const stopLsn = stopLsnOf(backupManifest, stderr);
    const stopTime = (await withBackupSession(connection, (s) => s.query<{ now: Date }>('SELECT clock_timestamp() AS now')))[0]!.now;
    return await completePostgresBackup({
      repository: options.repository, writer, facts, labelFile, tablespaceMap, stopLsn,
      stopTime: new Date(stopTime).toISOString(), walTimeoutMs: options.walTimeoutMs ?? 120_000, progress: report,
      signal: options.signal,
      metadata: { method: 'pg_basebackup', server: `${options.host}:${options.port}`, directories, tablespaces: [], filesReused: 0, filesStored: counters.filesDone },
    });
  } catch (error) {
    child.kill('SIGTERM');
    await writer.abort().catch(() => undefined);
    if (error instanceof PostgresBackupError || error instanceof UsageError) throw error;
    const code = await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 2000))]).catch(() => undefined);
    throw new PostgresBackupError('backup-failed', `backup over the replication protocol failed: ${(error as Error).message}` +
      (stderr ? `; pg_basebackup (exit ${String(code)}) said: ${stderr.trim().slice(-2000)}` : ''), { cause: error });
  }
}

/** The end of the backup's WAL range: from the backup_manifest's WAL-Ranges, else pg_basebackup's verbose output. */
function stopLsnOf(backupManifest: string | undefined, stderr: string): string {
  if (backupManifest !== undefined) {
    try {
      const ranges = (JSON.parse(backupManifest) as { 'WAL-Ranges'?: { 'End-LSN': string }[] })['WAL-Ranges'];
      const end = ranges?.at(-1)?.['End-LSN'];
      if (end) return end;
    } catch {
      // Fall through to the verbose output.
    }
  }
  const match = /write-ahead log end point: ([0-9A-F]+\/[0-9A-F]+)/.exec(stderr);
  if (!match) throw new PostgresBackupError('backup-failed', `cannot tell where the backup's WAL ends: no backup manifest and no end point in pg_basebackup's output (${stderr.trim().slice(-500)})`);
  return match[1]!;
}

function defaultPgBasebackup(versionNum: number): string {
  const path = `/usr/lib/postgresql/${Math.floor(versionNum / 10000)}/bin/pg_basebackup`;
  return existsSync(path) ? path : 'pg_basebackup';
}

async function text(body: AsyncIterable<Buffer>): Promise<string> {
  const parts: Buffer[] = [];
  for await (const part of body) parts.push(part);
  return Buffer.concat(parts).toString('utf8');
}

