import { UsageError } from '../../errors/index.js';

/** Where recovery stops. At most one of time, lsn, name (PostgreSQL's rule); none: replay the whole archive. */
export interface RecoveryTarget {
  /** A Date, or a timestamp PostgreSQL accepts (with a time zone: '2026-01-31 14:05:00+00'). */
  time?: Date | string;
  lsn?: string;
  /** A restore point created with pg_create_restore_point(name). */
  name?: string;
  /** Stop just after the target (true, PostgreSQL's default) or just before it. */
  inclusive?: boolean;
}

/**
 * The postgresql.auto.conf lines that turn a restored data directory into a point-in-time recovery: where to fetch WAL
 * from, where to stop, and to promote once there (PostgreSQL's default action is to pause, which leaves a server
 * that looks hung to anyone not watching its log).
 */
export function recoverySettings(restoreCommand: string, target: RecoveryTarget | undefined, extra: Readonly<Record<string, string>> = {}): string[] {
  if (restoreCommand.trim() === '') throw new UsageError('restoreCommand', "is empty; give the command PostgreSQL runs to fetch WAL, e.g. \"datakeep wal get %f '%p' --repo DIR\"");
  const lines = [`restore_command = ${quote(restoreCommand)}`];
  const given = (['time', 'lsn', 'name'] as const).filter((key) => target?.[key] !== undefined);
  if (given.length > 1) throw new UsageError('target', `sets ${given.join(' and ')}; PostgreSQL accepts one recovery target, keep one`);
  if (target?.time !== undefined) lines.push(`recovery_target_time = ${quote(formatTime(target.time))}`);
  if (target?.lsn !== undefined) {
    if (!/^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/.test(target.lsn)) throw new UsageError('target.lsn', `"${target.lsn}" is not an LSN; give it as pg_current_wal_lsn() prints it, e.g. 0/3000060`);
    lines.push(`recovery_target_lsn = ${quote(target.lsn)}`);
  }
  if (target?.name !== undefined) lines.push(`recovery_target_name = ${quote(target.name)}`);
  if (given.length > 0) {
    lines.push(`recovery_target_inclusive = ${target?.inclusive === false ? 'false' : 'true'}`);
    lines.push(`recovery_target_action = 'promote'`);
  }
  lines.push(`recovery_target_timeline = 'latest'`);
  for (const [key, value] of Object.entries(extra)) {
    if (!/^[a-z_.]+$/.test(key)) throw new UsageError(`settings.${key}`, 'is not a PostgreSQL setting name');
    lines.push(`${key} = ${quote(value)}`);
  }
  return lines;
}

function formatTime(time: Date | string): string {
  if (typeof time === 'string') {
    if (Number.isNaN(new Date(time).getTime()) && !/^\d{4}-\d{2}-\d{2}[ T]/.test(time)) {
      throw new UsageError('target.time', `"${time}" is not a timestamp; give an ISO 8601 time with a zone, e.g. 2026-01-31T14:05:00Z`);
    }
    return time;
  }
  if (Number.isNaN(time.getTime())) throw new UsageError('target.time', 'is an invalid Date');
  // PostgreSQL's input format with an explicit UTC offset: no dependence on the restored server's TimeZone.
  return time.toISOString().replace('T', ' ').replace('Z', '+00');
}

function quote(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}
