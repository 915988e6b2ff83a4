import { createWriteStream } from 'node:fs';
import { appendFile, chmod, chown, mkdir, readFile, readdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { dirname, join, posix, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { ManifestFileEntry, Repository } from '../../../repository/repository-types.js';
import { UsageError } from '../../../errors/index.js';
import { EXCLUDED_DIRECTORY_CONTENTS, type DataDirectory, type Tablespace } from './data-directory-walk.js';
import { readPageDelta, type PageDeltaRecord } from './page-delta.js';
import { planRecovery, type RecoveryPlan } from './plan-recovery.js';
import { PostgresBackupError } from './postgres-backup-error.js';
import { recoverySettings, type RecoveryTarget } from './recovery-settings.js';
import { checkRestoreDestination, RESTORE_IN_PROGRESS } from './restore-destination.js';
import { runBounded } from './run-bounded.js';
import { shellQuote } from '../../../util/shell-quote.js';
import { assertReachableBy, serverOsUser } from './server-os-user.js';
import { startRestoredCluster, stopRestoredCluster, type StartRestoredClusterOptions } from './start-restored-cluster.js';
import type { WalPrefetchSetting } from './wal-commands-for-server.js';
import { DEFAULT_WAL_PREFETCH, MAX_WAL_PREFETCH, walPrefetchSpool } from './wal-prefetch-spool.js';

/** The passphrase file a restore writes for its restore_command; removed when recovery ends. Never backed up. */
export const RESTORE_PASSPHRASE_FILE = 'datakeep_restore_passphrase';

export type { RestoreProgress as PostgresRestoreProgress } from '../../../backup/backup-types.js';
import type { RestoreProgress as PostgresRestoreProgress } from '../../../backup/backup-types.js';
import { MAX_WORKERS } from '../../../config/worker-limit.js';

export interface PostgresRestoreOptions {
  repository: Repository;
  /** The backup to restore; default: the newest one consistent before the target. An ancestor replaces it when the
   * target lies before it (the result's `note` says so). */
  backupId?: string;
  /** Which database's backups (the repository's name for it); default: the only one in the repository. */
  database?: string;
  /** An empty or non-existent directory; never a running cluster's. */
  to: string;
  /** Where recovery stops; none: replay every archived segment of the timeline, then promote. */
  target?: RecoveryTarget;
  /** Timeline to follow: default the base backup's own; a number, or 'latest' (the newest in the archive). */
  timeline?: number | 'latest';
  /**
   * What PostgreSQL runs to fetch WAL, e.g. `datakeep wal get %f "%p" --repo DIR --passphrase-file FILE`; as a
   * function it receives the passphrase file this restore wrote (see `passphrase`).
   */
  restoreCommand: string | ((written: { passphraseFile: string | undefined; prefetch: WalPrefetchSetting | undefined }) => string);
  /**
   * Segments restore_command keeps fetched ahead (pgBackRest's asynchronous archive-get), in a spool inside the data
   * directory that recovery_end_command removes: default 8; 0 turns it off. Only a function `restoreCommand` uses it.
   */
  walPrefetch?: number;
  /**
   * A passphrase for restore_command that the server's OS user could not read otherwise (it came from the
   * environment): written into the data directory with mode 0600 for that user, and removed by recovery_end_command
   * once recovery ends.
   */
  passphrase?: string;
  /** The restored server's archiving: 'off' (default), or the archive_command of a repository of its own. */
  archive?: 'off' | { archiveCommand: string };
  /** The port written into the restored configuration (default: the start port, else the source's). */
  port?: number;
  /** Extra settings for the restored server's postgresql.auto.conf. */
  settings?: Readonly<Record<string, string>>;
  /** New locations for tablespaces, by OID; default: where they were (which must then be empty). */
  tablespaceMapping?: Readonly<Record<string, string>>;
  /** Files written at once (default: the number of CPUs, at least 2). */
  workers?: number;
  /**
   * Re-read and re-hash every chunk before writing anything (default true), so a corrupt backup is refused with the
   * names of its broken chunks instead of failing half-way.
   */
  verifyFirst?: boolean;
  /**
   * Read and authenticate every WAL segment recovery will need before writing (default true). Off, only their
   * presence is checked (a damaged segment then stops recovery at start instead).
   */
  verifyWal?: boolean;
  /** On failure, keep what was written (to inspect it) instead of removing it; the error says where. */
  keepFailed?: boolean;
  /** Owner of the restored files when running as root; default: the `postgres` OS user. */
  owner?: { uid: number; gid: number };
  /** Start the restored server and wait until it has recovered and promoted. */
  start?: Omit<StartRestoredClusterOptions, 'dataDirectory'>;
  /** "Now" for refusing targets in the future. */
  now?: Date;
  /** Argument names for error messages (the CLI passes its flags). */
  fields?: { time?: string; lsn?: string; name?: string };
  /** Aborting (Ctrl-C in the CLI) stops the restore and removes what it wrote, as any failure does. */
  signal?: AbortSignal;
  onProgress?: (progress: PostgresRestoreProgress) => void;
}

export interface PostgresRestoreResult {
  readonly backupId: string;
  /** Why the base differs from the backup asked for (an ancestor that is consistent before the target). */
  readonly note: string | undefined;
  readonly to: string;
  readonly timeline: number;
  /** The target as written for PostgreSQL (the time in UTC), or undefined for "replay everything". */
  readonly target: string | undefined;
  readonly filesRestored: number;
  readonly bytesRestored: number;
  readonly walSegmentsChecked: number;
  /** The lines appended to postgresql.auto.conf. */
  readonly recoverySettings: readonly string[];
  readonly started: boolean;
}

/**
 * Restores a backup for point-in-time recovery. First, before writing anything, it plans: the target as one instant,
 * the base backup that can reach it, and unbroken authentic WAL from the base to the target (planRecovery); then it
 * verifies the chunks. Then it assembles the data directory (the manifest lists every file, reused ones pointing into
 * its parents) with modes and mtimes, the backup_label and tablespace_map, empty runtime directories,
 * `recovery.signal` and the recovery settings, and optionally starts the server and waits for the promotion.
 * A restore that fails removes what it wrote (unless keepFailed), so the same call can simply be retried.
 */
export async function restorePostgres(options: PostgresRestoreOptions): Promise<PostgresRestoreResult> {
  const { repository } = options;
  const to = resolve(options.to);
  const workers = options.workers ?? Math.min(MAX_WORKERS, Math.max(2, cpus().length));
  if (!Number.isInteger(workers) || workers < 1 || workers > MAX_WORKERS) throw new UsageError('workers', `expected an integer from 1 to ${MAX_WORKERS}, got ${String(workers)}`);
  const destinationExists = await checkRestoreDestination(to);
  const asRoot = process.getuid?.() === 0;
  const serverUser = asRoot && !options.owner ? serverOsUser(options.start?.osUser ?? 'postgres') : undefined;
  if (serverUser) await assertReachableBy(serverUser, join(to, 'PG_VERSION'), 'to');
  const owner = asRoot ? options.owner ?? serverUser : undefined;

  const progress: { -readonly [K in keyof PostgresRestoreProgress]: PostgresRestoreProgress[K] } = { phase: 'planning', filesTotal: 0, filesDone: 0, bytesTotal: 0, bytesDone: 0 };
  const report = () => {
    try {
      options.onProgress?.({ ...progress });
    } catch {
      // A progress display must never break a restore.
    }
  };
  report();
  const database = options.database ?? await onlyDatabase(repository);
  const plan: RecoveryPlan = await planRecovery(repository, database, {
    backupId: options.backupId,
    time: options.target?.time, timeZone: options.target?.timeZone, lsn: options.target?.lsn, name: options.target?.name,
    inclusive: options.target?.inclusive, timeline: options.timeline, now: options.now, fields: options.fields, verifyWal: options.verifyWal,
    onWalChecked: (done) => {
      progress.phase = 'checking-wal';
      progress.walChecked = done;
      report();
    },
  });
  const backupId = plan.base.backupId;
  const manifest = await repository.manifest(backupId);
  const label = manifest.blobs.backup_label;
  if (label === undefined) throw new PostgresBackupError('backup-corrupt', `backup "${backupId}" has no backup_label; it is not a PostgreSQL physical backup`);
  const files = [...manifest.files];
  const pageDeltas = (manifest.metadata.pageDeltas as Record<string, PageDeltaRecord> | undefined) ?? {};
  const realSize = (entry: ManifestFileEntry) => pageDeltas[entry.path]?.size ?? entry.size;
  progress.filesTotal = files.length;
  progress.bytesTotal = files.reduce((sum, f) => sum + realSize(f), 0);

  if (options.verifyFirst !== false) {
    progress.phase = 'verifying';
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
  const createdTablespaces: string[] = [];
  for (const [oid, location] of tablespaceTargets) {
    await checkRestoreDestination(location).catch((error: unknown) => {
      throw new PostgresBackupError('unsafe-destination', `tablespaceMapping.${oid}: ${(error as Error).message}`, { cause: error });
    });
    if (serverUser) await assertReachableBy(serverUser, join(location, 'x'), `tablespaceMapping.${oid}`);
  }
  const own = async (path: string) => {
    if (owner) await chown(path, owner.uid, owner.gid);
  };

  const passphraseFile = options.passphrase === undefined ? undefined : join(to, RESTORE_PASSPHRASE_FILE);
  const prefetchQueue = options.walPrefetch ?? DEFAULT_WAL_PREFETCH;
  if (!Number.isInteger(prefetchQueue) || prefetchQueue < 0 || prefetchQueue > MAX_WAL_PREFETCH) throw new UsageError('walPrefetch', `${String(options.walPrefetch)} is not a number of segments from 0 to ${MAX_WAL_PREFETCH}; 0 turns prefetching off`);
  const prefetch = typeof options.restoreCommand === 'function' && prefetchQueue > 0 ? { spool: walPrefetchSpool(to), queue: prefetchQueue } : undefined;
  const restoreCommand = typeof options.restoreCommand === 'function' ? options.restoreCommand({ passphraseFile, prefetch }) : options.restoreCommand;
  const port = options.port ?? options.start?.port;
  // What only recovery needs goes when it ends: the passphrase (a secret) and the prefetched segments.
  const leftovers = [passphraseFile === undefined ? undefined : `rm -f ${shellQuote(passphraseFile)}`, prefetch === undefined ? undefined : `rm -rf ${shellQuote(prefetch.spool)}`].filter((c) => c !== undefined);
  const settings = recoverySettings({
    restoreCommand, target: plan.target, timeline: options.timeline === 'latest' ? 'latest' : plan.timeline,
    archive: options.archive, port, extra: options.settings,
    recoveryEndCommand: leftovers.length === 0 ? undefined : leftovers.join('; '),
  });

  let started = false;
  let createdParent: string | undefined;
  try {
    progress.phase = 'writing';
    report();
    if (!destinationExists) {
      // Missing parents get the usual 0755 (the server's OS user must pass through them); only `to` itself is 0700.
      createdParent = await mkdir(dirname(to), { recursive: true });
      await mkdir(to, { mode: 0o700 });
    }
    await chmod(to, 0o700);
    await own(to);
    await writeFile(join(to, RESTORE_IN_PROGRESS), `datakeep restore of ${backupId} by process ${process.pid} since ${new Date().toISOString()}\n`, { mode: 0o600 });

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
        createdTablespaces.push(location);
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
      options.signal?.throwIfAborted();
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
    if (passphraseFile !== undefined) await writeSmall(RESTORE_PASSPHRASE_FILE, `${options.passphrase!}\n`);
    // Complete on disk: from here a server may start from it, so it is no longer a leftover to clear.
    await rm(join(to, RESTORE_IN_PROGRESS), { force: true });
    await writeSmall('recovery.signal', '');
    const autoConf = join(to, 'postgresql.auto.conf');
    const existing = await readFile(autoConf, 'utf8').catch(() => undefined);
    const block = `${existing === undefined || existing.endsWith('\n') || existing === '' ? '' : '\n'}# Recovery settings written by datakeep when restoring backup ${backupId} at ${new Date().toISOString()}\n${settings.join('\n')}\n`;
    await appendFile(autoConf, block, { mode: 0o600 });
    await own(autoConf);

    options.signal?.throwIfAborted();
    if (options.start) {
      progress.phase = 'starting';
      report();
      await startRestoredCluster({ ...options.start, dataDirectory: to, osUser: options.start.osUser });
      started = true;
      // recovery_end_command removed them already; this covers a server whose recovery ended without running it.
      if (passphraseFile !== undefined) await rm(passphraseFile, { force: true });
      if (prefetch !== undefined) await rm(prefetch.spool, { recursive: true, force: true });
    }
  } catch (error) {
    throw await failedRestore(error, { to, createdTo: !destinationExists, createdParent, tablespaces: createdTablespaces, keep: options.keepFailed === true });
  }
  progress.phase = 'done';
  report();
  return {
    backupId, note: plan.note, to, timeline: plan.timeline, target: plan.targetDescription,
    filesRestored: files.length, bytesRestored: progress.bytesDone, walSegmentsChecked: plan.walSegmentsChecked, recoverySettings: settings, started,
  };
}

/** The database whose backups the repository holds, when there is exactly one. */
async function onlyDatabase(repository: Repository): Promise<string> {
  const names = [...new Set((await repository.list()).map((s) => s.database))];
  if (names.length === 1) return names[0]!;
  if (names.length === 0) throw new PostgresBackupError('backup-not-found', 'the repository holds no completed backup; take one first (datakeep backup create)');
  throw new UsageError('database', `the repository holds backups of several databases (${names.join(', ')}); say which`);
}

/**
 * Leaves nothing half-done behind: stops a server this restore started (it may be mid-recovery), then removes the
 * directory it created (or empties the one it was given) and the tablespace locations; or, asked, keeps them. The
 * error then says which happened, so the same call can be retried at once.
 */
async function failedRestore(error: unknown, state: { to: string; createdTo: boolean; createdParent: string | undefined; tablespaces: readonly string[]; keep: boolean }): Promise<Error> {
  const original = error instanceof Error ? error : new Error(String(error));
  await stopRestoredCluster(state.to).catch(() => undefined);
  let what: string;
  if (state.keep) {
    what = `what was written is kept in ${state.to} (keepFailed); remove it before restoring there again`;
  } else {
    try {
      if (state.createdTo) await rm(state.createdParent ?? state.to, { recursive: true, force: true });
      else for (const name of await readdir(state.to).catch(() => [] as string[])) await rm(join(state.to, name), { recursive: true, force: true });
      for (const location of state.tablespaces) await rm(location, { recursive: true, force: true });
      what = `the partial restore in ${state.to} was removed, so the same restore can be retried (pass keepFailed / --keep-failed to inspect it instead)`;
    } catch (cleanup) {
      what = `removing the partial restore in ${state.to} failed too (${(cleanup as Error).message}); remove it by hand`;
    }
  }
  const message = `${original.message}\n${what}`;
  if (original instanceof PostgresBackupError) return new PostgresBackupError(original.reason, message, { items: original.items, cause: original.cause ?? original });
  return new PostgresBackupError('recovery-failed', `restore failed: ${message}`, { cause: original });
}


