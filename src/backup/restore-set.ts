import { join } from 'node:path';
import { parseRecoveryTime } from '../config/recovery-time.js';
import { BackupSetError, UsageError } from '../errors/index.js';
import type { BackupSet } from './backup-sets.js';
import type { RestoreOptions, RestoreResult } from './backup-types.js';

/**
 * Restores every member of a backup set (or those of `options.database`), one after the other, each from its own
 * repository by its own engine's driver, all to the same `targetTime` when one is given (each engine replays its own
 * log to it). Each member goes where its engine restores to: a directory `to/<database>` (or the driver's default
 * when `to` is not given), or its live target from `targets[database]`.
 *
 * The target is read once, here, into one instant that every member gets as the same ISO text (microseconds kept):
 * a time that one engine could read and another not, or two engines could read differently, would otherwise fail or
 * diverge after the first members were already written.
 *
 * What cannot apply to several engines at once is refused before anything is written: LSNs and restore-point names
 * (PostgreSQL's), and `start` (one port for several servers).
 */
export async function restoreBackupSet(
  set: BackupSet,
  options: RestoreOptions,
  restoreOne: (backupId: string, options: RestoreOptions) => Promise<RestoreResult>,
): Promise<RestoreResult & { setId: string; members: RestoreResult[] }> {
  if (options.targetLsn !== undefined || options.targetName !== undefined) {
    throw new UsageError(options.targetLsn !== undefined ? 'targetLsn' : 'targetName', `applies to one PostgreSQL backup, not to the set ${set.setId}; give targetTime (every engine replays its log to it), or restore the PostgreSQL member by its backup id`);
  }
  if (options.start !== undefined) {
    throw new UsageError('start', `cannot start the several servers of set ${set.setId} on one port; restore the set without start, then start each member with the command its result prints`);
  }
  const members = set.members.filter((m) => options.database === undefined || m.database === options.database);
  if (members.length === 0) {
    throw new UsageError('database', `set ${set.setId} has no member "${options.database}" (its members: ${set.members.map((m) => m.database).join(', ')})`);
  }
  const targetTime = options.targetTime === undefined ? undefined : parseRecoveryTime(options.targetTime, { timeZone: options.timeZone, field: options.fields?.time }).iso;
  const restored: RestoreResult[] = [];
  for (const member of members) {
    const memberOptions: RestoreOptions = {
      ...options, targetTime, timeZone: undefined, database: member.database, to: options.to === undefined ? undefined : join(options.to, member.database),
    };
    try {
      restored.push(await restoreOne(member.backupId, memberOptions));
    } catch (error) {
      const done = restored.map((r) => `${r.database} into ${r.to}`).join(', ');
      throw new BackupSetError(
        `restoring set ${set.setId} failed at ${member.database} (backup ${member.backupId}): ${(error as Error).message}${done ? `; already restored: ${done} (left in place)` : ''}`,
        restored, member.database, { cause: error },
      );
    }
  }
  return { ...restored[0]!, setId: set.setId, members: restored };
}
