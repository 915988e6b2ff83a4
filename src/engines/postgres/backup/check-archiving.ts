import type { Repository } from '../../../repository/repository-types.js';
import { PostgresBackupError } from './postgres-backup-error.js';
import type { WalWaiting } from './postgres-backup-result.js';
import type { BackupSession } from './postgres-session.js';

export interface CheckArchivingOptions {
  /** How long the switched segment may take to reach the repository (the backup's walTimeoutMs). */
  timeoutMs: number;
  /** Called at least once a second while the check waits. */
  onWait?: (wait: WalWaiting) => void;
  signal?: AbortSignal;
}

export interface ArchiveCheckResult {
  /**
   * 'switched': a segment written and switched by the check reached the repository. 'statistics': the role may not
   * switch WAL (pg_switch_wal needs superuser or a GRANT) or the server is a standby, so only pg_stat_archiver was
   * checked: the archiver is not failing and its last archived file is in this repository (or it archived nothing yet).
   */
  readonly method: 'switched' | 'statistics';
  readonly segment: string | undefined;
  readonly waitedMs: number;
}

interface ArchiverStatus {
  archivedCount: number;
  lastArchivedWal: string | null;
  lastArchivedTime: Date | null;
  failedCount: number;
  lastFailedWal: string | null;
  lastFailedTime: Date | null;
}

/** Failed attempts seen after the switch before the check gives up: the first may be a stale retry. */
const FAILURES_BEFORE_GIVING_UP = 2;
/**
 * How long the archiver may report a segment archived while this repository still lacks it: a moment for WAL that
 * reaches the repository another way (a WAL stream) rather than through archive_command.
 */
const FOREIGN_ARCHIVE_GRACE_MS = 3000;

/**
 * Proves, before any file is copied, that the server's archive_command feeds this repository: writes a tiny WAL
 * record, switches WAL, and waits until the segment that held the record is in the repository's archive. A backup
 * copies the whole data directory before it can learn that its WAL never arrives, and pg_basebackup -X none even
 * waits in pg_backup_stop for the archiver without limit; this check turns both into an error within seconds.
 *
 * Fails with 'backup-failed' as soon as pg_stat_archiver shows the archiver failing (after two attempts that postdate
 * the switch), and with 'wal-missing' when the archiver reports the segment archived yet the repository lacks it, or
 * when it does not arrive within `timeoutMs`.
 */
export async function checkArchiving(session: BackupSession, repository: Repository, options: CheckArchivingOptions): Promise<ArchiveCheckResult> {
  const startedAt = Date.now();
  const deadline = startedAt + options.timeoutMs;
  const command = await describeArchiveCommand(session);
  const baseline = await archiverStatus(session);
  const segment = await switchWithRecord(session);
  let foreignSince: number | undefined;
  let pause = 50;
  let nextReport = startedAt;
  for (;;) {
    options.signal?.throwIfAborted();
    // Statistics before the listing: a segment the archiver calls archived was then already stored, wherever it went.
    const status = await archiverStatus(session);
    const listed = new Set(await repository.listWal());
    const now = Date.now();
    if (segment !== undefined && listed.has(segment)) return { method: 'switched', segment, waitedMs: now - startedAt };
    const failing = isFailing(status);
    const newFailures = status.failedCount - baseline.failedCount;
    if (segment === undefined && !failing) {
      if (status.lastArchivedWal === null || listed.has(status.lastArchivedWal)) return { method: 'statistics', segment, waitedMs: now - startedAt };
      throw foreignArchive(repository, command, status, status.lastArchivedWal);
    }
    // Without a switch nothing wakes the archiver: one fresh failure is all it will show within the timeout.
    if (failing && newFailures >= (segment === undefined ? 1 : FAILURES_BEFORE_GIVING_UP)) throw archiveFailing(command, status, newFailures);
    if (segment !== undefined && archivedPast(status, segment)) {
      foreignSince ??= now;
      if (now - foreignSince >= FOREIGN_ARCHIVE_GRACE_MS) throw foreignArchive(repository, command, status, segment);
    }
    if (now >= deadline) {
      if (failing) throw archiveFailing(command, status, newFailures);
      throw notArrived(repository, command, status, segment, options.timeoutMs);
    }
    if (options.onWait && now >= nextReport) {
      nextReport = now + 1000;
      try {
        options.onWait({ segment: segment ?? status.lastFailedWal ?? '', seconds: Math.floor((now - startedAt) / 1000), archived: 0, total: 1 });
      } catch {
        // A progress display must never break a backup.
      }
    }
    const sleepMs = Math.min(pause, Math.max(1, deadline - Date.now()), options.onWait ? Math.max(1, nextReport - Date.now()) : Infinity);
    await new Promise((resolve) => setTimeout(resolve, sleepMs));
    pause = Math.min(pause * 2, 500);
  }
}

/** The name of the segment that held a fresh WAL record, once switched out; undefined when this role or server cannot switch. */
async function switchWithRecord(session: BackupSession): Promise<string | undefined> {
  const [recovery] = await session.query<{ in_recovery: boolean }>('SELECT pg_is_in_recovery() AS in_recovery');
  // A standby writes no WAL of its own and cannot switch; its archiver (archive_mode = always) is checked by statistics.
  if (recovery?.in_recovery) return undefined;
  // pg_switch_wal does nothing when the current segment holds no WAL since the last switch: a record makes sure it
  // switches (and thus hands the archiver a new segment now).
  try {
    await session.query(`SELECT pg_logical_emit_message(false, 'datakeep', 'archive check')`);
  } catch {
    // Any transaction with an xid writes a commit record, and needs no privilege.
    await session.query('SELECT pg_current_xact_id()');
  }
  try {
    // pg_walfile_name of the switch's end names the segment just completed, the one holding the record.
    const [row] = await session.query<{ segment: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS segment');
    return row?.segment;
  } catch (error) {
    if (sqlStateOf(error) === '42501') return undefined;
    throw new PostgresBackupError('backup-failed', `the archive check could not switch WAL: ${(error as Error).message}`, { cause: error });
  }
}

async function archiverStatus(session: BackupSession): Promise<ArchiverStatus> {
  const [row] = await session.query<{
    archived_count: string; last_archived_wal: string | null; last_archived_time: Date | string | null;
    failed_count: string; last_failed_wal: string | null; last_failed_time: Date | string | null;
  }>('SELECT archived_count, last_archived_wal, last_archived_time, failed_count, last_failed_wal, last_failed_time FROM pg_stat_archiver');
  if (!row) throw new PostgresBackupError('backup-failed', 'pg_stat_archiver returned no row');
  const time = (value: Date | string | null) => (value === null ? null : new Date(value));
  return {
    archivedCount: Number(row.archived_count),
    lastArchivedWal: row.last_archived_wal,
    lastArchivedTime: time(row.last_archived_time),
    failedCount: Number(row.failed_count),
    lastFailedWal: row.last_failed_wal,
    lastFailedTime: time(row.last_failed_time),
  };
}

/** A failure newer than the last success: the archiver is stuck on that file (it archives in order). */
function isFailing(status: ArchiverStatus): boolean {
  if (status.lastFailedTime === null) return false;
  return status.lastArchivedTime === null || status.lastFailedTime > status.lastArchivedTime;
}

/** The archiver has archived `segment` or a later one (segments, .partial and .backup files sort by their 24 hex digits). */
function archivedPast(status: ArchiverStatus, segment: string): boolean {
  const last = status.lastArchivedWal;
  if (last === null || !/^[0-9A-F]{24}/.test(last)) return false;
  return last.slice(0, 24) >= segment && last.slice(0, 8) === segment.slice(0, 8);
}

async function describeArchiveCommand(session: BackupSession): Promise<string> {
  try {
    const [row] = await session.query<{ command: string | null; library: string | null }>(
      `SELECT current_setting('archive_command', true) AS command, current_setting('archive_library', true) AS library`);
    if (row?.library) return `archive_library = ${quoteSetting(row.library)}`;
    return `archive_command = ${quoteSetting(row?.command ?? '')}`;
  } catch {
    return 'archive_command (not readable by this role)';
  }
}

/** As in postgresql.conf, unless the value has quotes of its own (a shell command line): then as it is, to be read. */
function quoteSetting(value: string): string {
  return value.includes("'") ? value : `'${value}'`;
}

function archiveFailing(command: string, status: ArchiverStatus, attempts: number): PostgresBackupError {
  const wal = status.lastFailedWal ?? '?';
  return new PostgresBackupError('backup-failed',
    `archive_command fails (last failed WAL ${wal} at ${status.lastFailedTime?.toISOString() ?? '?'}, ${attempts} failed attempts during the archive check; ` +
    `last success: ${status.lastArchivedWal ?? 'none'}${status.lastArchivedTime ? ` at ${status.lastArchivedTime.toISOString()}` : ''}), so the backup's WAL would never reach the repository; ` +
    `the server log has the reason. Common causes: the server's OS user (usually postgres) cannot run or read the command (${command}), ` +
    `e.g. a datakeep checkout in a directory that user cannot enter (under /root, or made by mktemp -d); a wrong --repo; a wrong passphrase file. Nothing was copied`,
    { items: [wal] });
}

function foreignArchive(repository: Repository, command: string, status: ArchiverStatus, segment: string): PostgresBackupError {
  return new PostgresBackupError('wal-missing',
    `the server's archiver reports ${status.lastArchivedWal ?? '?'} archived (at ${status.lastArchivedTime?.toISOString() ?? '?'}), but ${segment} is not in this repository ` +
    `(${repository.storage.description}): ${command} does not feed THIS repository; point its --repo at this repository ('datakeep wal push %p --repo ...'). Nothing was copied`,
    { items: [segment] });
}

function notArrived(repository: Repository, command: string, status: ArchiverStatus, segment: string | undefined, timeoutMs: number): PostgresBackupError {
  const what = segment === undefined ? `the archiver's last file ${status.lastArchivedWal ?? '?'}` : `segment ${segment} (written and switched by the archive check)`;
  return new PostgresBackupError('wal-missing',
    `${what} did not reach this repository (${repository.storage.description}) within ${timeoutMs} ms: ${command} does not feed THIS repository, ` +
    `or the archiver is far behind (pg_stat_archiver: last archived ${status.lastArchivedWal ?? 'none'}${status.lastArchivedTime ? ` at ${status.lastArchivedTime.toISOString()}` : ''}); ` +
    `make archive_command 'datakeep wal push %p' with --repo naming this repository. Nothing was copied`,
    { items: segment === undefined ? [] : [segment] });
}

function sqlStateOf(error: unknown): string | undefined {
  const e = error as { code?: unknown; sqlState?: unknown; cause?: unknown } | null;
  if (e === null || typeof e !== 'object') return undefined;
  if (typeof e.sqlState === 'string') return e.sqlState;
  if (typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) return e.code;
  return e.cause !== undefined && e.cause !== error ? sqlStateOf(e.cause) : undefined;
}
