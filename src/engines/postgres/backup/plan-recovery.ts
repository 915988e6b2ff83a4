import type { BackupSummary, Repository } from '../../../repository/repository-types.js';
import { UsageError } from '../../../errors/index.js';
import { walkArchivedWal } from './archived-wal-path.js';
import { chooseRestoreBase, consistentAtMicros, type BaseTarget } from './choose-restore-base.js';
import { PostgresBackupError } from './postgres-backup-error.js';
import { backupsOf, lastTransactionEnd, microsToIso, segmentSizeOf, serverMajorOf } from './recoverability-window.js';
import { parseRecoveryTime } from '../../../config/recovery-time.js';
import { TimelineHistory } from './timeline-history.js';
import { openWalRecordReader } from './wal-records.js';
import { formatLsn, parseLsn, segmentOf } from './wal-position.js';

export interface RecoveryRequest {
  /** A backup id; default: the newest backup that serves the target. */
  backupId?: string;
  /** At most one of time, lsn, name. */
  time?: Date | string;
  /** IANA zone for a target time written without one. */
  timeZone?: string;
  lsn?: string;
  name?: string;
  inclusive?: boolean;
  /** Timeline to recover along: a number, 'latest' (the newest in the archive), default the base backup's own. */
  timeline?: number | 'latest';
  /** Argument names for messages (the CLI passes its flags). */
  fields?: { time?: string; lsn?: string; name?: string; timeline?: string };
  /** "Now", for refusing targets in the future (tests pass a clock). */
  now?: Date;
  /** Authenticate every WAL segment recovery will read (default true). */
  verifyWal?: boolean;
  onWalChecked?: (done: number, total: number | undefined, name: string) => void;
}

export interface RecoveryPlan {
  readonly base: BackupSummary;
  /** Why the base differs from the backup asked for, when it does. */
  readonly note: string | undefined;
  readonly timeline: number;
  /** What goes into recovery_target_*: the time in one unambiguous form (UTC, microseconds). */
  readonly target: { time?: string; lsn?: string; name?: string; inclusive: boolean } | undefined;
  /** The instant or position aimed at, for messages and results. */
  readonly targetDescription: string | undefined;
  readonly walSegmentsChecked: number;
}

/**
 * Decides everything about a point-in-time restore before a byte is written: the target as one absolute instant (or
 * position), the timeline, the base backup (the newest one consistent before the target), and proof that the archive
 * holds unbroken, authentic WAL from the base to the target, with a transaction end after a target time (PostgreSQL
 * needs one to know it has reached the target). Whatever cannot work is refused here, with what can.
 */
export async function planRecovery(repository: Repository, database: string, request: RecoveryRequest): Promise<RecoveryPlan> {
  const fields = { time: 'targetTime', lsn: 'targetLsn', name: 'targetName', timeline: 'targetTimeline', ...request.fields };
  const given = (['time', 'lsn', 'name'] as const).filter((k) => request[k] !== undefined);
  if (given.length > 1) throw new UsageError(given.map((k) => fields[k]).join(' and '), 'are all set; PostgreSQL stops at one recovery target, keep one');
  const summaries = backupsOf(await repository.list(), database);
  if (summaries.length === 0) throw new PostgresBackupError('backup-not-found', `no completed backup of ${database} in the repository`);
  const segmentSize = segmentSizeOf(summaries);
  const major = serverMajorOf(summaries);
  const now = request.now ?? new Date();

  const requested = request.backupId === undefined || request.backupId === 'latest' ? undefined : request.backupId;
  const asked = requested === undefined ? undefined : summaries.find((s) => s.backupId === requested);
  if (requested !== undefined && !asked) throw new PostgresBackupError('backup-not-found', `backupId: no completed backup "${requested}" of ${database} in the repository; list the backups and pick one`);
  const timeline = await chooseTimeline(repository, request.timeline, asked ?? summaries.at(-1)!, fields.timeline);
  const history = await TimelineHistory.load(repository, timeline);

  let target: BaseTarget = { kind: 'none' };
  let settings: RecoveryPlan['target'];
  const inclusive = request.inclusive !== false;
  if (request.time !== undefined) {
    const instant = parseRecoveryTime(request.time, { timeZone: request.timeZone, field: fields.time });
    const nowMicros = BigInt(now.getTime()) * 1000n;
    if (instant.epochMicros > nowMicros) {
      throw new PostgresBackupError('target-unreachable', `${fields.time}: ${instant.iso} is in the future (now is ${now.toISOString()}); nothing was written; give a time inside the recoverability window (datakeep backup window)`);
    }
    target = { kind: 'time', micros: instant.epochMicros, text: instant.iso };
    settings = { time: instant.postgres, inclusive };
  } else if (request.lsn !== undefined) {
    let lsn: bigint;
    try {
      lsn = parseLsn(request.lsn);
    } catch {
      throw new UsageError(fields.lsn, `"${request.lsn}" is not an LSN; give it as pg_current_wal_lsn() prints it, e.g. 0/3000060`);
    }
    target = { kind: 'lsn', lsn, text: `LSN ${formatLsn(lsn)}` };
    settings = { lsn: formatLsn(lsn), inclusive };
  } else if (request.name !== undefined) {
    if (request.name === '' || request.name.length > 63) throw new UsageError(fields.name, `"${request.name}" is not a restore point name (1 to 63 characters, as pg_create_restore_point takes)`);
    const lsn = await findRestorePoint(repository, summaries, history, request.name, segmentSize, major, fields.name);
    target = { kind: 'lsn', lsn, text: `restore point "${request.name}" (LSN ${formatLsn(lsn)})` };
    settings = { name: request.name, inclusive };
  }

  const { base, note } = chooseRestoreBase(summaries, target, history, requested);
  const baseStart = parseLsn(String(base.metadata.startLsn));
  const until = target.kind === 'lsn' ? segmentOf(target.lsn, segmentSize) : undefined;
  const path = await walkArchivedWal(repository, history, baseStart, segmentSize, {
    authenticate: request.verifyWal !== false,
    until,
    onSegment: (done, name) => request.onWalChecked?.(done, until === undefined ? undefined : Number(until - segmentOf(baseStart, segmentSize) + 1n), name),
  });
  const last = path.segments.at(-1);
  const baseStop = parseLsn(String(base.metadata.stopLsn ?? base.metadata.startLsn));
  if (!last || (last.segment + 1n) * BigInt(segmentSize) < baseStop) {
    throw new PostgresBackupError('wal-missing', `backup ${base.backupId} cannot become consistent: its WAL from ${String(base.metadata.startLsn)} is missing from the archive (first missing ${path.firstMissing ?? '?'}); nothing was written`, { items: path.firstMissing ? [path.firstMissing] : [] });
  }
  const archiveEnd = (last.segment + 1n) * BigInt(segmentSize);
  if (target.kind === 'lsn' && target.lsn >= archiveEnd) {
    throw new PostgresBackupError('target-unreachable', `${target.text} is past the end of the archived WAL (${formatLsn(archiveEnd)}, segment ${last.name}; next missing ${path.firstMissing ?? '-'}); nothing was written; archive the rest first (pg_switch_wal() on the source), or give an earlier target`);
  }
  if (target.kind === 'lsn' && request.name === undefined) {
    // Recovery stops at the first record at or after the target: past the last record (the rest of a switched
    // segment is empty) it would end before reaching it.
    const reader = await openWalRecordReader(repository, { segmentSize, serverMajor: major });
    const next = await reader.firstRecordFrom(history.timelineOfSegment(segmentOf(target.lsn, segmentSize), segmentSize), target.lsn).finally(() => reader.close());
    if (next === undefined) {
      throw new PostgresBackupError('target-unreachable', `${fields.lsn}: ${target.text} lies after the last WAL record in the archive (archived WAL ends at ${formatLsn(archiveEnd)}, segment ${last.name}), so recovery would end before reaching it; nothing was written; give an earlier LSN, or archive newer WAL first (pg_switch_wal() on the source)`);
    }
  }
  if (target.kind === 'time') {
    const end = await lastTransactionEnd(repository, path, segmentSize, major, baseStop);
    const reachable = end?.timeMicros !== undefined && (inclusive ? end.timeMicros > target.micros : end.timeMicros >= target.micros);
    if (!reachable) {
      throw new PostgresBackupError('target-unreachable',
        `${fields.time}: ${target.text} is after the last transaction in the archive (${end?.timeMicros === undefined ? 'none after the base backup' : microsToIso(end.timeMicros)}; archived WAL ends at ${formatLsn(archiveEnd)}, segment ${last.name}), ` +
        `so recovery could not tell that it reached the target; nothing was written; the recoverability window is ${windowStart(summaries, history)} to ${end?.timeMicros === undefined ? '-' : microsToIso(end.timeMicros)}: give a time inside it, or archive newer WAL first (pg_switch_wal() on the source)`);
    }
  }
  return {
    base, note, timeline, target: settings,
    targetDescription: target.kind === 'none' ? undefined : target.text,
    walSegmentsChecked: path.segments.length,
  };
}

async function chooseTimeline(repository: Repository, requested: number | 'latest' | undefined, base: BackupSummary, field: string): Promise<number> {
  if (requested === undefined) return typeof base.metadata.timeline === 'number' ? base.metadata.timeline : 1;
  if (requested === 'latest') {
    const names = await repository.listWal();
    const timelines = names.map((n) => /^([0-9A-F]{8})(?:[0-9A-F]{16}|\.history)$/.exec(n)?.[1]).filter((t): t is string => t !== undefined);
    return Math.max(1, ...timelines.map((t) => Number.parseInt(t, 16)));
  }
  if (!Number.isInteger(requested) || requested < 1) throw new UsageError(field, `${String(requested)} is not a timeline; give a positive integer, or 'latest'`);
  const hex = requested.toString(16).toUpperCase().padStart(8, '0');
  const known = requested === 1 || (await repository.listWal()).some((n) => n.startsWith(hex));
  if (!known) throw new UsageError(field, `timeline ${requested} is not in the archive (no ${hex}.history and no segment of it); see datakeep wal check, or leave it out to follow the backup's own timeline`);
  return requested;
}

async function findRestorePoint(repository: Repository, summaries: readonly BackupSummary[], history: TimelineHistory, name: string, segmentSize: number, major: number, field: string): Promise<bigint> {
  const starts = summaries.map((s) => (typeof s.metadata.startLsn === 'string' ? parseLsn(s.metadata.startLsn) : undefined)).filter((l): l is bigint => l !== undefined);
  const from = starts.reduce((a, b) => (b < a ? b : a));
  const path = await walkArchivedWal(repository, history, from, segmentSize);
  const reader = await openWalRecordReader(repository, { segmentSize, serverMajor: major });
  const found: bigint[] = [];
  try {
    for (const { segment, timeline } of path.segments) {
      for (const record of await reader.segment(timeline, segment)) if (record.kind === 'restore-point' && record.name === name) found.push(record.lsn);
    }
  } finally {
    await reader.close();
  }
  if (found.length === 0) throw new PostgresBackupError('target-unreachable', `${field}: no restore point "${name}" in the archived WAL after the oldest backup (searched ${path.segments.length} segment(s)); nothing was written; check the name (pg_create_restore_point), or give --target-time / --target-lsn`);
  if (found.length > 1) throw new PostgresBackupError('target-unreachable', `${field}: restore point "${name}" occurs ${found.length} times (at LSN ${found.map(formatLsn).join(', ')}); recovery would stop at the first one after the base backup; give the one you mean with --target-lsn`);
  return found[0]!;
}

/** The first restorable instant on this history: the oldest backup's consistency point, as the window reports it. */
function windowStart(summaries: readonly BackupSummary[], history: TimelineHistory): string {
  const usable = summaries.filter((s) => typeof s.metadata.stopLsn === 'string' && history.reaches(Number(s.metadata.timeline ?? 1), parseLsn(String(s.metadata.stopLsn))));
  const first = usable.map(consistentAtMicros).reduce<bigint | undefined>((a, b) => (a === undefined || b < a ? b : a), undefined);
  return first === undefined ? '-' : microsToIso(first);
}
