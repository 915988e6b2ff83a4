import type { BackupSummary } from '../../../repository/repository-types.js';
import { PostgresBackupError } from './postgres-backup-error.js';
import type { TimelineHistory } from './timeline-history.js';
import { parseLsn } from './wal-position.js';

/** A recovery target reduced to what a base backup must precede: an instant (µs since the epoch) or a WAL position. */
export type BaseTarget =
  | { readonly kind: 'time'; readonly micros: bigint; readonly text: string }
  | { readonly kind: 'lsn'; readonly lsn: bigint; readonly text: string }
  | { readonly kind: 'none' };

export interface ChosenBase {
  readonly base: BackupSummary;
  /** Set when the base is not the backup that was asked for (an ancestor of it serves the target), saying why. */
  readonly note: string | undefined;
}

/** Microseconds since the epoch at which a backup is consistent (restorable), rounded up to stay on the safe side. */
export function consistentAtMicros(summary: BackupSummary): bigint {
  const text = typeof summary.metadata.stopTime === 'string' ? summary.metadata.stopTime : summary.finishedAt;
  // Stop times are kept to the millisecond, truncated: the real instant lies within the following millisecond.
  return BigInt(new Date(text).getTime() + 1) * 1000n;
}

function stopLsnOf(summary: BackupSummary): bigint | undefined {
  return typeof summary.metadata.stopLsn === 'string' ? parseLsn(summary.metadata.stopLsn) : undefined;
}

function timelineOf(summary: BackupSummary): number {
  return typeof summary.metadata.timeline === 'number' ? summary.metadata.timeline : 1;
}

/** True when recovery from `summary` can reach `target`: the backup is consistent before it. */
export function servesTarget(summary: BackupSummary, target: BaseTarget): boolean {
  if (target.kind === 'none') return true;
  if (target.kind === 'time') return consistentAtMicros(summary) <= target.micros;
  const stop = stopLsnOf(summary);
  return stop !== undefined && stop <= target.lsn;
}

/**
 * Picks the base backup of a point-in-time restore. PostgreSQL can only stop recovery after the base is consistent
 * (its stop point): a target before that fails at the end of recovery, or worse, replays past the target when a later
 * commit ends the replay. So the base is the newest backup consistent before the target, on the history of the chosen
 * timeline; a backup that was asked for by id is replaced by its newest ancestor that qualifies (and the note says so).
 * When none qualifies, the error names the backups that can serve the target, before anything is written.
 */
export function chooseRestoreBase(summaries: readonly BackupSummary[], target: BaseTarget, history: TimelineHistory, requested?: string): ChosenBase {
  const byId = new Map(summaries.map((s) => [s.backupId, s]));
  const onHistory = (s: BackupSummary) => {
    const stop = stopLsnOf(s);
    return history.reaches(timelineOf(s), stop ?? 0n);
  };
  const servers = summaries.filter((s) => onHistory(s) && servesTarget(s, target));
  const describeServers = () => servers.length === 0
    ? 'no backup in the repository is consistent before it'
    : `backups consistent before it: ${servers.map((s) => `${s.backupId} (consistent from ${consistencyText(s)})`).join(', ')}`;
  const targetText = target.kind === 'none' ? '' : target.text;

  if (requested !== undefined) {
    const asked = byId.get(requested);
    if (!asked) throw new PostgresBackupError('backup-not-found', `backupId: no completed backup "${requested}" in the repository; list the backups and pick one`);
    if (!onHistory(asked)) {
      throw new PostgresBackupError('target-unreachable', `backup "${requested}" is on timeline ${timelineOf(asked)}, which does not lead to timeline ${history.timeline}; ` +
        `restore it with its own timeline, or pick a backup of timeline ${history.timeline}`);
    }
    for (let id: string | undefined = requested; id !== undefined; id = byId.get(id)?.parent) {
      const candidate = byId.get(id);
      if (candidate && servesTarget(candidate, target)) {
        const note = id === requested ? undefined
          : `backup ${requested} is consistent only from ${consistencyText(asked)}, after the target ${targetText}; restoring from its ancestor ${id} (consistent from ${consistencyText(candidate)}) instead`;
        return { base: candidate, note };
      }
    }
    throw new PostgresBackupError('target-unreachable', `the target ${targetText} is before backup ${requested} and its whole chain became consistent, so no restore from it can stop there; nothing was written; ${describeServers()}`);
  }
  const base = servers.sort((a, b) => compareConsistency(a, b)).at(-1);
  if (!base) {
    throw new PostgresBackupError('target-unreachable', `no backup can reach the target ${targetText}: ${describeServers()}${summaries.length ? `; the oldest backup is consistent from ${consistencyText(summaries[0]!)}` : ''}; nothing was written`);
  }
  return { base, note: undefined };
}

function compareConsistency(a: BackupSummary, b: BackupSummary): number {
  const la = stopLsnOf(a);
  const lb = stopLsnOf(b);
  if (la !== undefined && lb !== undefined && timelineOf(a) === timelineOf(b) && la !== lb) return la < lb ? -1 : 1;
  return Number(consistentAtMicros(a) - consistentAtMicros(b));
}

function consistencyText(summary: BackupSummary): string {
  const time = typeof summary.metadata.stopTime === 'string' ? summary.metadata.stopTime : summary.finishedAt;
  return typeof summary.metadata.stopLsn === 'string' ? `${time}, LSN ${summary.metadata.stopLsn}` : time;
}
