import { UsageError } from '../../../errors/index.js';

/** Where recovery stops. At most one of time, lsn, name (PostgreSQL's rule); none: replay the whole archive. */
export interface RecoveryTarget {
  /** A Date, or a time with a zone: ISO 8601 ('2026-01-31T14:05:00Z', offsets) or PostgreSQL's ('2026-01-31 14:05:00+00'). */
  time?: Date | string;
  /** The zone of a `time` written without one (an IANA name); without it such a time is refused. */
  timeZone?: string;
  lsn?: string;
  /** A restore point created with pg_create_restore_point(name). */
  name?: string;
  /** Stop just after the target (true, PostgreSQL's default) or just before it. */
  inclusive?: boolean;
}

export interface RecoverySettingsInput {
  /** What PostgreSQL runs to fetch WAL. */
  restoreCommand: string;
  /** The target, already normalised (the time in UTC with microseconds); none: replay everything, then promote. */
  target?: { time?: string; lsn?: string; name?: string; inclusive?: boolean };
  /** The timeline to follow: the base backup's own by default (a number), or 'latest'. */
  timeline: number | 'latest';
  /**
   * What the restored server does with its WAL. 'off' (the default): nothing; a restored copy must never archive into
   * the repository it came from, where its new timeline would mislead every later restore. Or the archive_command of
   * a repository of its own.
   */
  archive?: 'off' | { archiveCommand: string };
  /** The port the restored server listens on (its source's would collide with the source). */
  port?: number;
  /** Run once when recovery ends (PostgreSQL's recovery_end_command), e.g. removing the passphrase file. */
  recoveryEndCommand?: string;
  /** Further settings, written last. */
  extra?: Readonly<Record<string, string>>;
}

/**
 * The postgresql.auto.conf lines that turn a restored data directory into a point-in-time recovery: where to fetch WAL
 * from, where to stop, and to promote once there (PostgreSQL's default action is to pause, which leaves a server
 * that looks hung to anyone not watching its log), on which timeline, and what the promoted copy may archive.
 */
export function recoverySettings(input: RecoverySettingsInput): string[] {
  if (input.restoreCommand.trim() === '') throw new UsageError('restoreCommand', "is empty; give the command PostgreSQL runs to fetch WAL, e.g. \"datakeep wal get %f '%p' --repo DIR\"");
  const { target } = input;
  const lines = [`restore_command = ${quote(input.restoreCommand)}`];
  const given = (['time', 'lsn', 'name'] as const).filter((key) => target?.[key] !== undefined);
  if (given.length > 1) throw new UsageError('target', `sets ${given.join(' and ')}; PostgreSQL accepts one recovery target, keep one`);
  if (target?.time !== undefined) lines.push(`recovery_target_time = ${quote(target.time)}`);
  if (target?.lsn !== undefined) {
    if (!/^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/.test(target.lsn)) throw new UsageError('target.lsn', `"${target.lsn}" is not an LSN; give it as pg_current_wal_lsn() prints it, e.g. 0/3000060`);
    lines.push(`recovery_target_lsn = ${quote(target.lsn)}`);
  }
  if (target?.name !== undefined) lines.push(`recovery_target_name = ${quote(target.name)}`);
  if (given.length > 0) {
    lines.push(`recovery_target_inclusive = ${target?.inclusive === false ? 'false' : 'true'}`);
    lines.push(`recovery_target_action = 'promote'`);
  }
  if (input.timeline !== 'latest' && (!Number.isInteger(input.timeline) || input.timeline < 1)) throw new UsageError('timeline', `${String(input.timeline)} is not a timeline`);
  lines.push(`recovery_target_timeline = ${quote(String(input.timeline))}`);
  const archive = input.archive ?? 'off';
  if (archive === 'off') lines.push(`archive_mode = 'off'`);
  else lines.push(`archive_mode = 'on'`, `archive_command = ${quote(archive.archiveCommand)}`);
  // A copy of a primary that had synchronous standbys would wait for them on every commit: it has none.
  lines.push(`synchronous_standby_names = ''`);
  if (input.port !== undefined) {
    if (!Number.isInteger(input.port) || input.port < 1 || input.port > 65535) throw new UsageError('port', `${String(input.port)} is not a TCP port (1-65535)`);
    lines.push(`port = ${input.port}`);
  }
  if (input.recoveryEndCommand !== undefined) lines.push(`recovery_end_command = ${quote(input.recoveryEndCommand)}`);
  for (const [key, value] of Object.entries(input.extra ?? {})) {
    if (!/^[a-z_.]+$/.test(key)) throw new UsageError(`settings.${key}`, 'is not a PostgreSQL setting name');
    lines.push(`${key} = ${quote(value)}`);
  }
  return lines;
}

function quote(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}
