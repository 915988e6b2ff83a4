import { createWriteStream, readFileSync } from 'node:fs';
import { appendFile, chmod, chown, mkdir, readFile, symlink, utimes, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join, posix, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { ManifestFileEntry, Repository } from '../../repository/repository-types.js';
import { UsageError } from '../../errors/index.js';
import { EXCLUDED_DIRECTORY_CONTENTS, type DataDirectory, type Tablespace } from './data-directory-walk.js';
import { readPageDelta, type PageDeltaRecord } from './page-delta.js';
import { PostgresBackupError } from './postgres-backup-error.js';
import { recoverySettings, type RecoveryTarget } from './recovery-settings.js';
import { checkRestoreDestination } from './restore-destination.js';
import { runBounded } from './run-bounded.js';
import { startRestoredCluster, type StartRestoredClusterOptions } from './start-restored-cluster.js';

export interface PostgresRestoreProgress {
  readonly phase: 'verifying' | 'writing' | 'starting' | 'done';
  readonly filesTotal: number;
  readonly filesDone: number;
  readonly bytesTotal: number;
  readonly bytesDone: number;
}

export interface PostgresRestoreOptions {
  repository: Repository;
  backupId: string;
  /** An empty or non-existent directory; never a running cluster's. */
  to: string;
  /** Where recovery stops; none: replay every archived segment, then promote. */
  target?: RecoveryTarget;
  /** What PostgreSQL runs to fetch WAL, e.g. `datakeep wal get %f "%p" --repo DIR --passphrase-file FILE`. */
  restoreCommand: string;
  /** Extra settings for the restored server's postgresql.auto.conf (e.g. archive_mode = off for a scratch copy). */
  settings?: Readonly<Record<string, string>>;
  /** New locations for tablespaces, by OID; default: where they were (which must then be empty). */
  tablespaceMapping?: Readonly<Record<string, string>>;
  /** Files written at once (default: the number of CPUs, at least 2). */
  workers?: number;
  /**
   * Re-read and re-hash every chunk before writing anything (default true), so a corrupt backup is refused with the
   * names of its broken chunks instead of failing half-way. Off, chunks are still verified as they stream, and a
   * failure leaves a partial directory behind.
   */
  verifyFirst?: boolean;
  /** Owner of the restored files when running as root; default: the `postgres` OS user. */
  owner?: { uid: number; gid: number };
  /** Start the restored server and wait until it has recovered and promoted. */
  start?: Omit<StartRestoredClusterOptions, 'dataDirectory'>;
  onProgress?: (progress: PostgresRestoreProgress) => void;
}

export interface PostgresRestoreResult {
  readonly backupId: string;
  readonly to: string;
  readonly filesRestored: number;
  readonly bytesRestored: number;
  /** The lines appended to postgresql.auto.conf. */
  readonly recoverySettings: readonly string[];
  readonly started: boolean;
}

/**
 * Assembles a data directory from a backup (its manifest already lists every file, reused ones pointing into its
 * parents), verifies the chunks first, then writes files with their modes and mtimes, the backup_label and
 * tablespace_map from pg_backup_stop, empty runtime directories (pg_wal, ...), `recovery.signal`, and the recovery
 * settings (restore_command, target, promote). Optionally starts the server and waits for the promotion.
 */
export async function restorePostgres(options: PostgresRestoreOptions): Promise<PostgresRestoreResult> {
  const { repository, backupId } = options;
  const to = resolve(options.to);
  const workers = options.workers ?? Math.max(2, cpus().length);
  if (!Number.isInteger(workers) || workers < 1) throw new UsageError('workers', `expected an integer >= 1, got ${String(workers)}`);
  const settings = recoverySettings(options.restoreCommand, options.target, options.settings);
  const destinationExists = await checkRestoreDestination(to);

  const summary = (await repository.list()).find((s) => s.backupId === backupId);
  if (!summary) {
    throw new PostgresBackupError('backup-not-found', `backupId: "${backupId}" is not a completed backup in the repository (an interrupted backup never is); list the backups and pick one`);
  }
  const manifest = await repository.manifest(backupId);
  const label = manifest.blobs.backup_label;
  if (label === undefined) throw new PostgresBackupError('backup-corrupt', `backup "${backupId}" has no backup_label; it is not a PostgreSQL physical backup`);
  const files = [...manifest.files];
  const pageDeltas = (manifest.metadata.pageDeltas as Record<string, PageDeltaRecord> | undefined) ?? {};
  const realSize = (entry: ManifestFileEntry) => pageDeltas[entry.path]?.size ?? entry.size;
  const bytesTotal = files.reduce((sum, f) => sum + realSize(f), 0);
  const progress = { phase: 'verifying' as PostgresRestoreProgress['phase'], filesTotal: files.length, filesDone: 0, bytesTotal, bytesDone: 0 };
  const report = () => {
    try {
      options.onProgress?.({ ...progress });
    } catch {
      // A progress display must never break a restore.
    }
  };

  if (options.verifyFirst !== false) {
    report();
    const verified = await repository.verify(backupId);
    if (!verified.ok) {
      const names = verified.problems.map((p) => (p.chunk ? `${p.path} (chunk ${p.chunk})` : p.path));
      throw new PostgresBackupError('backup-corrupt',
        `backup "${backupId}" cannot be restored, nothing was written: ${verified.problems.length} problem(s): ` +
        `${verified.problems.slice(0, 10).map((p) => p.message).join('; ')}; restore an older backup, or repair the repository from a copy`,
        { items: names });
    }
  }

  const metadata = manifest.metadata;
  const tablespaces = (metadata.tablespaces as Tablespace[] | undefined) ?? [];
  const tablespaceTargets = new Map(tablespaces.map((t) => [t.oid, resolve(options.tablespaceMapping?.[t.oid] ?? t.location)]));
  for (const [oid, location] of tablespaceTargets) {
    await checkRestoreDestination(location).catch((error: unknown) => {
      throw new PostgresBackupError('unsafe-destination', `tablespaceMapping.${oid}: ${(error as Error).message}`, { cause: error });
    });
  }
  const owner = process.getuid?.() === 0 ? options.owner ?? postgresOsUser() : undefined;
  const own = async (path: string) => {
    if (owner) await chown(path, owner.uid, owner.gid);
  };

  progress.phase = 'writing';
  report();
  if (!destinationExists) await mkdir(to, { recursive: true, mode: 0o700 });
  await chmod(to, 0o700);
  await own(to);

  // Directories first, parents before children; a tablespace's directory becomes a symlink to its location.
  const directories = new Map<string, number>();
  for (const dir of (metadata.directories as DataDirectory[] | undefined) ?? []) directories.set(dir.path, dir.mode);
  for (const dir of [...EXCLUDED_DIRECTORY_CONTENTS, 'pg_wal/archive_status', 'pg_tblspc']) if (!directories.has(dir)) directories.set(dir, 0o700);
  for (const file of files) {
    for (let dir = posix.dirname(file.path); dir !== '.' && !directories.has(dir); dir = posix.dirname(dir)) directories.set(dir, 0o700);
  }
  for (const path of [...directories.keys()].sort((a, b) => a.split('/').length - b.split('/').length || a.localeCompare(b))) {
    const absolute = join(to, path);
    const tablespace = /^pg_tblspc\/([^/]+)$/.exec(path);
    const location = tablespace ? tablespaceTargets.get(tablespace[1]!) : undefined;
    if (location !== undefined) {
      await mkdir(location, { recursive: true, mode: 0o700 });
      await chmod(location, 0o700);
      await own(location);
      await symlink(location, absolute);
      if (owner) await chown(absolute, owner.uid, owner.gid).catch(() => undefined);
      continue;
    }
    await mkdir(absolute, { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
    await chmod(absolute, directories.get(path)! & 0o7777);
    await own(absolute);
  }

  const writeOne = async (entry: ManifestFileEntry) => {
    const absolute = join(to, entry.path);
    const delta = pageDeltas[entry.path];
    // A page delta is rebuilt over its base (verified chunk by chunk like any file); the rest streams as stored.
    const content = delta ? readPageDelta(repository, entry, delta) : repository.readFile(entry);
    await pipeline(content, createWriteStream(absolute, { flags: 'wx', mode: 0o600, highWaterMark: 1 << 20 }));
    await chmod(absolute, (delta?.mode ?? entry.mode) & 0o7777);
    await own(absolute);
    // Original mtimes keep the next backup's size-and-mtime comparison meaningful for files nothing changed.
    const mtime = new Date(delta?.mtimeMs ?? entry.mtimeMs);
    await utimes(absolute, mtime, mtime);
    progress.filesDone += 1;
    progress.bytesDone += realSize(entry);
    report();
  };
  // Largest first: the long files start early and the small ones fill the gaps at the end.
  files.sort((a, b) => realSize(b) - realSize(a));
  await runBounded(files, workers, writeOne);

  const writeSmall = async (name: string, text: string) => {
    const absolute = join(to, name);
    await writeFile(absolute, text, { mode: 0o600 });
    await own(absolute);
  };
  await writeSmall('backup_label', label);
  const map = manifest.blobs.tablespace_map;
  if (map !== undefined && map !== '') {
    const lines = map.split('\n').filter((l) => l !== '').map((line) => {
      const [oid] = line.split(' ', 1);
      const target = tablespaceTargets.get(oid!);
      return target === undefined ? line : `${oid} ${target}`;
    });
    await writeSmall('tablespace_map', `${lines.join('\n')}\n`);
  }
  await writeSmall('recovery.signal', '');
  const autoConf = join(to, 'postgresql.auto.conf');
  const existing = await readFile(autoConf, 'utf8').catch(() => undefined);
  const block = `${existing === undefined || existing.endsWith('\n') || existing === '' ? '' : '\n'}# Recovery settings written by datakeep when restoring backup ${backupId} at ${new Date().toISOString()}\n${settings.join('\n')}\n`;
  await appendFile(autoConf, block, { mode: 0o600 });
  await own(autoConf);

  let started = false;
  if (options.start) {
    progress.phase = 'starting';
    report();
    await startRestoredCluster({ ...options.start, dataDirectory: to, osUser: options.start.osUser });
    started = true;
  }
  progress.phase = 'done';
  report();
  return { backupId, to, filesRestored: files.length, bytesRestored: progress.bytesDone, recoverySettings: settings, started };
}

let cachedPostgres: { uid: number; gid: number } | undefined;
function postgresOsUser(): { uid: number; gid: number } {
  if (cachedPostgres) return cachedPostgres;
  const line = readFileSyncSafe('/etc/passwd').split('\n').find((l) => l.startsWith('postgres:'));
  if (!line) throw new UsageError('owner', 'running as root and there is no "postgres" OS user to own the restored files; pass owner: {uid, gid}');
  const [, , uid, gid] = line.split(':');
  cachedPostgres = { uid: Number(uid), gid: Number(gid) };
  return cachedPostgres;
}

function readFileSyncSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

