import { systemCheck, type SystemCheck } from '../monitoring/system-check.js';
import { describeDuration, missedTicks } from '../scheduler/missed-ticks.js';
import type { LogArchiveStatus } from './backup-driver.js';
import type { DatabaseBackupFacts } from './backup-facts.js';

export interface CronSchedule {
  readonly cron: string;
  readonly timeZone: string | undefined;
}

/** Finished log files not yet in the repository before the archive counts as behind (one may be in flight). */
const SEGMENTS_BEHIND_WARN = 3;

/**
 * validateSystem()'s backup checks for each database: `backup:age:<id>` (the newest backup against the schedule: one
 * missed tick warns, two or more are an error), `backup:wal-archive:<id>` (archiving on, not failing, no gap after the
 * newest backup, not falling behind) and `backup:drill:<id>` (the last restore drill passed, and is not overdue
 * against the drill schedule).
 */
export function backupChecks(facts: readonly DatabaseBackupFacts[], schedules: { backup: CronSchedule | undefined; drill: CronSchedule | undefined }, now = new Date()): SystemCheck[] {
  return facts.flatMap((f) => [ageCheck(f, schedules.backup, now), ...(f.archive ? [archiveCheck(f.database, f.archive, now)] : []), drillCheck(f, schedules.drill, now)]);
}

function ageCheck(f: DatabaseBackupFacts, schedule: CronSchedule | undefined, now: Date): SystemCheck {
  const name = `backup:age:${f.database}`;
  if (!f.newest) {
    return f.error !== undefined
      ? systemCheck(name, 'error', `cannot read the backup repository: ${f.error}`)
      : systemCheck(name, 'error', `no backup of ${f.database} yet; take one (datakeep backup, dm.createBackup) and schedule them (setupBackups, backups.schedule)`);
  }
  const age = now.getTime() - f.newest.finishedAt.getTime();
  const newest = `newest backup ${f.newest.backupId} finished ${f.newest.finishedAt.toISOString()} (${describeDuration(age)} ago), ${f.backups} in the repository`;
  if (!schedule) return systemCheck(name, 'warn', `${newest}; no backup schedule configured (setupBackups, or backups.schedule for datakeep serve)`);
  // A scheduled backup is not missed while it may still be running: twice the last backup's duration after its tick.
  const grace = 2 * (f.newest.finishedAt.getTime() - f.newest.startedAt.getTime());
  const behind = missedTicks(schedule.cron, schedule.timeZone, f.newest.startedAt, now, grace);
  const against = `the schedule (${schedule.cron}) expects one every ${describeDuration(behind.intervalMs)}`;
  if (behind.missed === 0) return systemCheck(name, 'ok', `${newest}; on schedule (${schedule.cron})`);
  const missed = `${behind.missed}${behind.missed === 3 ? ' or more' : ''} scheduled backup(s) missing since ${behind.since!.toISOString()}`;
  return systemCheck(name, behind.missed >= 2 ? 'error' : 'warn', `${newest}; ${against}: ${missed}; is datakeep serve running, and do its backups succeed (datakeep backup history)?`);
}

function archiveCheck(database: string, a: LogArchiveStatus, now: Date): SystemCheck {
  const name = `backup:wal-archive:${database}`;
  const archiver = a.archiver;
  if (!a.archiving) return systemCheck(name, 'error', 'the server does not archive its WAL (archive_mode = off): nothing after the newest backup can be restored; set archive_mode = on with datakeep\'s archive_command (docs/backups.md)');
  if (a.gap) return systemCheck(name, 'error', `WAL gap: ${a.gap.missing} is missing from the repository while ${a.gap.laterArchived} later segment(s) are there; point-in-time recovery stops before it; take a new full backup now (datakeep backup --type full) and find what removed it`);
  const last = archiver?.lastArchivedAt ? `last archived ${archiver.lastArchived} ${describeDuration(now.getTime() - archiver.lastArchivedAt.getTime())} ago` : 'nothing archived since the statistics were reset';
  if (archiver?.lastFailedAt && (!archiver.lastArchivedAt || archiver.lastFailedAt > archiver.lastArchivedAt)) {
    return systemCheck(name, 'error', `archive_command is failing: ${archiver.lastFailed ?? 'a segment'} failed at ${archiver.lastFailedAt.toISOString()} (${archiver.failures} failure(s) since the statistics were reset), ${last}; see the server log for the archive_command's error`);
  }
  const end = `archived without a gap up to ${a.archivedEnd ?? 'the newest backup'}`;
  if (a.behind !== undefined && a.behind >= SEGMENTS_BEHIND_WARN) return systemCheck(name, 'warn', `${a.behind} finished WAL segment(s) not in the repository yet (the server writes ${a.current}, ${end}); ${last}`);
  return systemCheck(name, 'ok', `${end}; ${last}${archiver && archiver.failures > 0 ? `; ${archiver.failures} earlier failure(s)` : ''}`);
}

function drillCheck(f: DatabaseBackupFacts, schedule: CronSchedule | undefined, now: Date): SystemCheck {
  const name = `backup:drill:${f.database}`;
  const drill = f.lastDrill;
  if (!f.drillsKnown) return systemCheck(name, 'skipped', 'the state store, where drills are recorded, could not be read (see the state-store check)');
  if (!drill) {
    return f.newest
      ? systemCheck(name, 'warn', 'no restore drill recorded: a backup never restored is not known to restore; run datakeep backup drill (or schedule drills with setupDrills)')
      : systemCheck(name, 'skipped', 'no backup to drill yet');
  }
  const when = `the last restore drill at ${drill.at.toISOString()} (${describeDuration(now.getTime() - drill.at.getTime())} ago)`;
  if (!drill.ok) return systemCheck(name, 'error', `${when} failed: ${drill.problems.join('; ') || 'see datakeep backup drill'}; a restore from these backups may fail the same way`);
  if (schedule) {
    const behind = missedTicks(schedule.cron, schedule.timeZone, drill.at, now, 3_600_000);
    if (behind.missed >= 2) return systemCheck(name, 'warn', `${when} passed, but ${behind.missed}${behind.missed === 3 ? ' or more' : ''} scheduled drills (${schedule.cron}) have not run since`);
  }
  return systemCheck(name, 'ok', `${when} passed`);
}
