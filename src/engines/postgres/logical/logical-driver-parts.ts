import { parseRecoveryTime } from '../../../config/recovery-time.js';
import type { RestoreRequest } from '../../../backup/backup-driver.js';
import type { RecoverabilityWindow, RestoreResult } from '../../../backup/backup-types.js';
import type { BackupSummary, Repository } from '../../../repository/repository-types.js';
import { PostgresBackupError } from '../backup/postgres-backup-error.js';
import { openLogicalTarget } from './open-logical-target.js';
import { restoreLogical } from './restore-logical.js';

export function isLogical(summary: BackupSummary): boolean {
  return summary.metadata.method === 'logical';
}

/** The logical backups of `database`, oldest first. */
export function logicalBackupsOf(summaries: readonly BackupSummary[], database: string): BackupSummary[] {
  return summaries.filter((s) => s.database === database && isLogical(s));
}

/** The instant a logical backup shows: its exported snapshot's. */
export function snapshotTimeOf(summary: BackupSummary): string {
  return typeof summary.metadata.snapshotTime === 'string' ? summary.metadata.snapshotTime : summary.startedAt;
}

/**
 * Which backup a restore request means when it is logical, or undefined when it is a physical one: the id asked for
 * when it names a logical backup; without an id, the newest logical backup when `target` or `tables` is given, or
 * when the newest backup of all is logical and no recovery target (time, LSN, name) asks for WAL replay.
 */
export async function logicalBackupFor(request: RestoreRequest): Promise<BackupSummary | undefined> {
  const all = (await request.repository.list()).filter((s) => s.database === request.database);
  const { options } = request;
  if (request.backupId !== undefined && request.backupId !== 'latest') {
    const asked = all.find((s) => s.backupId === request.backupId);
    return asked && isLogical(asked) ? asked : undefined;
  }
  const pitr = options.targetTime !== undefined || options.targetLsn !== undefined || options.targetName !== undefined;
  if (pitr) return undefined;
  const newestLogical = logicalBackupsOf(all, request.database).at(-1);
  if (options.target !== undefined || (options.tables?.length ?? 0) > 0) {
    if (!newestLogical) throw new PostgresBackupError('backup-not-found', `target: there is no logical backup of ${request.database} to restore into a live database; take one (method: 'logical') or restore a physical backup with "to"`);
    return newestLogical;
  }
  const newest = all.at(-1);
  return newest && isLogical(newest) ? newest : undefined;
}

/** Restores a logical backup for the backup manager (the driver's restore, once logicalBackupFor chose it). */
export async function restoreLogicalRequest(request: RestoreRequest, summary: BackupSummary): Promise<RestoreResult> {
  const { options } = request;
  for (const [name, given] of [['targetTimeline', options.targetTimeline], ['start', options.start], ['archiveTo', options.archiveTo], ['port', options.port]] as const) {
    if (given !== undefined) throw new PostgresBackupError('target-unreachable', `${name}: backup ${summary.backupId} is logical: it restores into a live database (target) at its snapshot instant, with no server to start or WAL to replay; leave ${name} out`);
  }
  // A snapshot restores to its own instant only. A target it cannot honour is refused before anything is written:
  // restoring the snapshot anyway would hand back rows committed after the instant asked for. A target after the
  // snapshot restores the snapshot, the newest restorable instant at or before it, and the note says so.
  for (const [name, given] of [['targetLsn', options.targetLsn], ['targetName', options.targetName]] as const) {
    if (given !== undefined) throw new PostgresBackupError('target-unreachable', `${name}: backup ${summary.backupId} is logical: it has no WAL, only its snapshot instant; leave ${name} out`);
  }
  const snapshotAt = typeof summary.metadata.snapshotTime === 'string' ? summary.metadata.snapshotTime : undefined;
  let targetNote: string | undefined;
  if (options.targetTime !== undefined && snapshotAt !== undefined) {
    const asked = parseRecoveryTime(options.targetTime);
    const snapshotMicros = BigInt(new Date(snapshotAt).getTime()) * 1000n;
    if (asked.epochMicros < snapshotMicros) {
      throw new PostgresBackupError('target-unreachable', `targetTime: ${asked.iso} is before the snapshot of logical backup ${summary.backupId} (${snapshotAt}), and a logical backup restores to its snapshot instant only; give a backup taken before ${asked.iso}, or leave targetTime out`);
    }
    targetNote = `restored to the snapshot instant ${snapshotAt}, the newest restorable instant at or before ${asked.iso} (a logical backup has no log to replay)`;
  }
  let description = '';
  const openTarget = async () => {
    const target = await openLogicalTarget({ target: options.target, to: options.to, destination: request.destination, database: request.database, workers: options.workers });
    description = target.description;
    return target;
  };
  const result = await restoreLogical({ repository: request.repository, backupId: summary.backupId, openTarget, tables: options.tables, signal: options.signal, onProgress: options.onProgress });
  return {
    backupId: summary.backupId, note: [...(targetNote ? [targetNote] : []), ...result.notes].join('; ') || undefined, database: request.database, to: description,
    timeline: 1, target: result.snapshotTime, started: true, walSegmentsChecked: 0, recoverySettings: [], startCommand: '', tables: result.tables,
  };
}

/** The window of logical backups: each one's snapshot instant (no log replays after it). */
export async function logicalWindow(repository: Repository, database: string, physical: RecoverabilityWindow | undefined): Promise<RecoverabilityWindow> {
  const all = (await repository.list()).filter((s) => s.database === database);
  const logical = logicalBackupsOf(all, database);
  const snapshots = logical.map((s) => ({ backupId: s.backupId, time: snapshotTimeOf(s) }));
  const method = all.length === 0 ? undefined : isLogical(all.at(-1)!) ? 'logical' as const : 'physical' as const;
  if (physical && physical.from) return { ...physical, backups: all.length, snapshots, method };
  const oldest = logical[0];
  return {
    database, timeline: physical?.timeline ?? 1, from: oldest ? { time: snapshotTimeOf(oldest), lsn: typeof oldest.metadata.snapshotLsn === 'string' ? oldest.metadata.snapshotLsn : undefined, backupId: oldest.backupId } : undefined,
    to: undefined, firstMissingWal: undefined, backups: all.length, snapshots, method,
  };
}
