import { open, realpath, stat } from 'node:fs/promises';
import { cpus } from 'node:os';
import type { BackupManifest, BackupType, BackupWriter, ManifestFileEntry, Repository } from '../../../repository/repository-types.js';
import { UsageError } from '../../../errors/index.js';
import { parseBackupLabel } from './backup-label.js';
import { chooseParentBackup } from './choose-parent-backup.js';
import { walkDataDirectory, type DataFile } from './data-directory-walk.js';
import { isFileUnchanged } from './is-file-unchanged.js';
import { encodePageDelta, isRelationMainFork, type PageDeltaRecord } from './page-delta.js';
import { parseLsn } from './wal-position.js';
import { PostgresBackupError } from './postgres-backup-error.js';
import { type BackupSession, type PostgresConnection, withBackupSession } from './postgres-session.js';
import { runBounded } from './run-bounded.js';
import { completePostgresBackup } from './complete-postgres-backup.js';
import { checkArchiving } from './check-archiving.js';
import type { PostgresBackupProgress, PostgresBackupResult } from './postgres-backup-result.js';
import { readServerFacts, type ServerFacts } from './server-facts.js';
import { MAX_WORKERS } from '../../../config/worker-limit.js';

export interface PostgresBackupOptions {
  /** SQL access to the server, for pg_backup_start/pg_backup_stop on one session (superuser or pg_backup_start rights). */
  connection: PostgresConnection;
  /** The server's data directory, readable by this process (datakeep runs on the database host, as pgBackRest does). */
  dataDirectory: string;
  repository: Repository;
  type: BackupType;
  /** Name the backup is filed under in the repository (the configured database's name). */
  database: string;
  /** Backup id this one is relative to; default: the newest full (differential) or newest backup (incremental). */
  parent?: string;
  /** Files read and stored at once (default: the number of CPUs, at least 2). */
  workers?: number;
  /**
   * How long to wait for the archiver to push WAL into the repository (default 120 s): both for the segment the
   * archive check switches before anything is copied, and for the backup's own WAL at the end.
   */
  walTimeoutMs?: number;
  /**
   * Push the backup's finished WAL segments (those with a `.ready` status file) from pg_wal into the repository
   * instead of only waiting for archive_command to do it (default false). Saves the archiver's per-segment process
   * start; the archiver's own push then finds the same content. Off by default because it would also complete a
   * backup while archive_command is failing, which hides a broken archive until a point-in-time restore needs it.
   */
  pushReadyWal?: boolean;
  /**
   * Files whose mtime is this close to the parent backup's start (or later) are read again even when size and mtime
   * match: a write in the same clock tick as the parent's copy leaves the mtime unchanged (default 1000 ms).
   */
  timestampMarginMs?: number;
  /**
   * Store only the changed pages of changed relation files, from their page LSNs (default true). Used when the parent
   * is on the same timeline and older than this backup's start; otherwise changed files are stored whole (chunk dedup
   * still applies).
   */
  pageDelta?: boolean;
  onProgress?: (progress: PostgresBackupProgress) => void;
  signal?: AbortSignal;
}

/**
 * A physical backup of a running PostgreSQL cluster with the engine's own protocol: `pg_backup_start` (fast
 * checkpoint) on a dedicated session, the data directory's files stored through the repository (chunked, deduplicated,
 * compressed, encrypted), `pg_backup_stop`, whose backup_label and tablespace_map are kept with the manifest. The
 * backup completes only once every WAL segment from its start to its stop LSN is in the repository's WAL archive
 * (pushed there by `archive_command = 'datakeep wal push %p'`); otherwise it is aborted and the error names the
 * missing segments. Before anything is copied, checkArchiving proves that archive_command feeds this repository (a
 * failing or misdirected archiver fails the backup within seconds, not after the whole copy).
 *
 * Differential and incremental backups reuse the parent's entry for files whose size, mtime and mode are unchanged and
 * whose mtime is safely older than the parent's start (pgBackRest's rule); the others are stored again, and the
 * repository's chunk-level dedup keeps only their changed chunks.
 */
export async function backupPostgres(options: PostgresBackupOptions): Promise<PostgresBackupResult> {
  const { repository, type, database } = options;
  if (!['full', 'differential', 'incremental'].includes(type)) {
    throw new UsageError('type', `"${String(type)}" is not a backup type; use full, differential or incremental`);
  }
  const workers = options.workers ?? Math.min(MAX_WORKERS, Math.max(2, cpus().length));
  if (!Number.isInteger(workers) || workers < 1 || workers > MAX_WORKERS) throw new UsageError('workers', `expected an integer from 1 to ${MAX_WORKERS}, got ${String(workers)}`);
  const dataDirectory = await realpath(options.dataDirectory).catch((error: unknown) => {
    throw new UsageError('dataDirectory', `"${options.dataDirectory}" cannot be read (${(error as Error).message}); give the server's data directory, or back up over the replication protocol with backupPostgresStream`, { cause: error });
  });

  return withBackupSession(options.connection, async (session) => {
    const facts = await readServerFacts(session);
    await checkDataDirectory(facts, dataDirectory);
    if (facts.archiveMode === 'off') {
      throw new PostgresBackupError('backup-failed', `the server has archive_mode = off, so the backup's WAL would never reach the repository; set archive_mode = on and archive_command = 'datakeep wal push %p' (restart needed)`);
    }
    const parentSummary = chooseParent(await repository.list(), options, facts);
    const parent = parentSummary ? await repository.manifest(parentSummary.backupId) : undefined;

    const walTimeoutMs = options.walTimeoutMs ?? 120_000;
    const writer = await repository.beginBackup({ type, parent: parent?.backupId, database });
    const progress = progressReporter(writer.backupId, options.onProgress);
    let inBackupMode = false;
    try {
      progress({ phase: 'checking-archive' });
      await checkArchiving(session, repository, {
        timeoutMs: walTimeoutMs, signal: options.signal, onWait: (walWaiting) => progress({ phase: 'checking-archive', walWaiting }),
      });
      // pgBackRest's rule: a file written in the same second as the copy starts may keep its mtime through a later
      // change; starting right after a second boundary makes "older than the start" mean "older by a whole tick".
      await sleep(1000 - (Date.now() % 1000) + 1);
      const copyStartedAtMs = Date.now();
      progress({ phase: 'starting' });
      const start = await startBackupMode(session, facts, `datakeep ${writer.backupId}`);
      inBackupMode = true;
      const deltaThreshold = options.pageDelta !== false ? pageDeltaThreshold(parent, facts, start) : undefined;

      const listing = await walkDataDirectory(dataDirectory);
      const control = listing.files.filter((f) => f.path === 'global/pg_control');
      const sizes = new Map<string, number>();
      await Promise.all(listing.files.map(async (f) => sizes.set(f.path, (await stat(f.absolutePath).catch(() => undefined))?.size ?? 0)));
      // Largest first: the 1 GiB relation segments start at once and the small files fill the gaps at the end.
      const others = listing.files.filter((f) => f.path !== 'global/pg_control').sort((a, b) => sizes.get(b.path)! - sizes.get(a.path)!);
      const parentFiles = new Map((parent?.files ?? []).map((entry) => [entry.path, entry]));
      const context: StoreContext = {
        writer,
        parentCopyStartMs: Number(parent?.metadata.copyStartedAtMs ?? Number.NaN),
        marginMs: options.timestampMarginMs ?? 1000,
        parentDeltas: (parent?.metadata.pageDeltas as Record<string, PageDeltaRecord> | undefined) ?? {},
        deltas: {},
        deltaThreshold,
        blockSize: facts.blockSize,
      };
      let bytesTotal = 0;
      for (const size of sizes.values()) bytesTotal += size;
      const counters = { filesTotal: listing.files.length, filesDone: 0, filesReused: 0, bytesTotal, bytesDone: 0, bytesStored: 0 };
      progress({ phase: 'copying', ...counters });
      const storeOne = async (file: DataFile): Promise<void> => {
        options.signal?.throwIfAborted();
        const outcome = await storeFile(context, file, parentFiles.get(file.path));
        counters.filesDone += 1;
        // The walk's size was a moment's view: the total follows what was read, so that done reaches total.
        counters.bytesTotal += (outcome?.size ?? 0) - (sizes.get(file.path) ?? 0);
        if (outcome) {
          counters.bytesDone += outcome.size;
          if (outcome.reused) counters.filesReused += 1;
        }
        progress({ phase: 'copying', ...counters });
      };
      await runBounded(others, workers, storeOne);
      // pg_control last, as pg_basebackup sends it: the copy must not predate any other file's.
      await runBounded(control, 1, storeOne);
      if (control.length === 0) throw new PostgresBackupError('backup-failed', `${dataDirectory} has no global/pg_control; is it a PostgreSQL data directory?`);

      const stop = await stopBackupMode(session, facts);
      inBackupMode = false;
      return await completePostgresBackup({
        repository, writer, facts, labelFile: stop.labelFile, tablespaceMap: stop.tablespaceMap, stopLsn: stop.lsn,
        stopTime: stop.time, walTimeoutMs, progress, signal: options.signal,
        dataDirectory: options.pushReadyWal === true ? dataDirectory : undefined,
        metadata: {
          method: 'pg_backup_start',
          dataDirectory,
          copyStartedAtMs,
          directories: listing.directories,
          tablespaces: listing.tablespaces,
          owner: await ownerOf(dataDirectory),
          filesReused: counters.filesReused,
          filesStored: counters.filesTotal - counters.filesReused,
          pageDeltas: context.deltas,
          pageDeltaFrom: deltaThreshold === undefined ? undefined : parent?.backupId,
        },
      });
    } catch (error) {
      if (inBackupMode) await stopBackupMode(session, facts).catch(() => undefined);
      await writer.abort().catch(() => undefined);
      throw error;
    }
  });
}

function chooseParent(summaries: Awaited<ReturnType<Repository['list']>>, options: PostgresBackupOptions, facts: ServerFacts) {
  if (options.type === 'full') return undefined;
  if (options.parent === undefined) return chooseParentBackup(summaries, options.database, options.type, facts.systemIdentifier);
  const parent = summaries.find((s) => s.backupId === options.parent);
  if (!parent) throw new PostgresBackupError('backup-not-found', `parent: no completed backup "${options.parent}" in the repository; list backups to pick one`);
  if (parent.metadata.systemIdentifier !== undefined && parent.metadata.systemIdentifier !== facts.systemIdentifier) {
    throw new PostgresBackupError('backup-failed', `parent: backup "${parent.backupId}" is of another cluster (system identifier ${String(parent.metadata.systemIdentifier)}, this server's is ${facts.systemIdentifier}); take a full backup`);
  }
  return parent;
}

async function checkDataDirectory(facts: ServerFacts, dataDirectory: string): Promise<void> {
  if (facts.dataDirectory === undefined) return;
  const serverSays = await realpath(facts.dataDirectory).catch(() => facts.dataDirectory!);
  if (serverSays !== dataDirectory) {
    throw new UsageError('dataDirectory', `"${dataDirectory}" is not this server's data directory (the server reports "${facts.dataDirectory}"); give the directory of the server the connection reaches`);
  }
}

interface StoreContext {
  readonly writer: BackupWriter;
  readonly parentCopyStartMs: number;
  readonly marginMs: number;
  /** The parent's page-delta records, by path: its entry for such a path describes the stored delta, not the file. */
  readonly parentDeltas: Readonly<Record<string, PageDeltaRecord>>;
  /** This backup's records (reused from the parent, or new). */
  readonly deltas: Record<string, PageDeltaRecord>;
  /** The parent's start LSN when page deltas are allowed. */
  readonly deltaThreshold: bigint | undefined;
  readonly blockSize: number;
}

async function storeFile(context: StoreContext, file: DataFile, parentEntry: ManifestFileEntry | undefined): Promise<{ size: number; reused: boolean } | undefined> {
  const { writer } = context;
  let handle;
  try {
    handle = await open(file.absolutePath, 'r');
  } catch (error) {
    // Dropped (or truncated away) during the backup: WAL replay removes it from the restored cluster as well.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const info = await handle.stat();
    const meta = { size: info.size, mtimeMs: info.mtimeMs, mode: info.mode & 0o7777 };
    const parentDelta = parentEntry ? context.parentDeltas[parentEntry.path] : undefined;
    // For a file the parent stored as a delta, its record (not the entry) holds the real size, mtime and mode.
    const parentView = parentEntry && parentDelta ? { ...parentEntry, size: parentDelta.size, mtimeMs: parentDelta.mtimeMs, mode: parentDelta.mode } : parentEntry;
    if (parentEntry && parentView && isFileUnchanged(parentView, meta, context.parentCopyStartMs, context.marginMs, Date.now())) {
      writer.reuseFile(parentEntry);
      if (parentDelta) context.deltas[parentEntry.path] = parentDelta;
      return { size: parentView.size, reused: true };
    }
    if (parentEntry && parentView && context.deltaThreshold !== undefined && isRelationMainFork(file.path) &&
        // A file created after the parent's copy started is another file at the same path: never a delta over it.
        info.birthtimeMs > 0 && info.birthtimeMs < context.parentCopyStartMs - context.marginMs) {
      const delta = encodePageDelta({ handle, blockSize: context.blockSize, baseSize: parentView.size, thresholdLsn: context.deltaThreshold });
      await writer.addFile(file.path, delta.stream, meta);
      const { size, pagesStored } = delta.result();
      context.deltas[file.path] = {
        size, mtimeMs: meta.mtimeMs, mode: meta.mode, blockSize: context.blockSize, pagesStored, base: parentEntry,
        ...(parentDelta ? { baseDelta: parentDelta } : {}),
      };
      return { size, reused: false };
    }
    const stream = handle.createReadStream({ highWaterMark: 1024 * 1024, autoClose: false });
    const entry = await writer.addFile(file.path, stream, meta);
    return { size: entry.size, reused: false };
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/**
 * The LSN below which a page is unchanged since the parent: the parent's start. Only when the parent is this server's
 * history: same system, same timeline (a promoted restore branches, and its pages may carry LSNs below the parent's
 * start with other content), and a start not after this backup's.
 */
function pageDeltaThreshold(parent: BackupManifest | undefined, facts: ServerFacts, start: { lsn: string; timeline: number }): bigint | undefined {
  if (!parent) return undefined;
  const m = parent.metadata;
  if (typeof m.startLsn !== 'string' || m.systemIdentifier !== facts.systemIdentifier || m.timeline !== start.timeline || m.blockSize !== facts.blockSize) return undefined;
  const threshold = parseLsn(m.startLsn);
  return threshold <= parseLsn(start.lsn) ? threshold : undefined;
}

async function startBackupMode(session: BackupSession, facts: ServerFacts, label: string): Promise<{ lsn: string; timeline: number }> {
  // fast => true: an immediate checkpoint rather than a spread one, as pgBackRest's start-fast and pg_basebackup -c fast.
  const sql = facts.versionNum >= 150000 ? 'SELECT pg_backup_start($1, true)::text AS lsn' : 'SELECT pg_start_backup($1, true, false)::text AS lsn';
  const [row] = await session.query<{ lsn: string }>(sql, [label]);
  // The checkpoint pg_backup_start just wrote is on the timeline the server writes.
  const [checkpoint] = await session.query<{ timeline: number }>('SELECT timeline_id AS timeline FROM pg_control_checkpoint()');
  return { lsn: row!.lsn, timeline: Number(checkpoint!.timeline) };
}

async function stopBackupMode(session: BackupSession, facts: ServerFacts): Promise<{ lsn: string; labelFile: string; tablespaceMap: string; time: string }> {
  // wait_for_archive => false: the wait happens on the repository's archive instead (with a timeout and the missing
  // names), which is the stronger proof; the WAL switch happens either way.
  const sql = facts.versionNum >= 150000
    ? 'SELECT lsn::text AS lsn, labelfile, spcmapfile, clock_timestamp() AS time FROM pg_backup_stop(false)'
    : 'SELECT lsn::text AS lsn, labelfile, spcmapfile, clock_timestamp() AS time FROM pg_stop_backup(false, false)';
  const rows = await session.query<{ lsn: string; labelfile: string; spcmapfile: string | null; time: Date }>(sql);
  const row = rows[0];
  if (!row) throw new PostgresBackupError('backup-failed', 'pg_backup_stop returned no row');
  parseBackupLabel(row.labelfile);
  return { lsn: row.lsn, labelFile: row.labelfile, tablespaceMap: row.spcmapfile ?? '', time: new Date(row.time).toISOString() };
}

async function ownerOf(path: string): Promise<{ uid: number; gid: number }> {
  const info = await stat(path);
  return { uid: info.uid, gid: info.gid };
}

function progressReporter(backupId: string, onProgress: PostgresBackupOptions['onProgress']): (update: Partial<PostgresBackupProgress> & Pick<PostgresBackupProgress, 'phase'>) => void {
  let last: PostgresBackupProgress = { backupId, phase: 'starting', filesTotal: 0, filesDone: 0, filesReused: 0, bytesTotal: 0, bytesDone: 0, bytesStored: 0 };
  return (update) => {
    // What is waited for belongs to the report that says so, not to the ones after it.
    const { walWaiting: _previous, ...rest } = last;
    last = { ...rest, ...update };
    if (onProgress) {
      try {
        onProgress(last);
      } catch {
        // A progress display must never break a backup.
      }
    }
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

