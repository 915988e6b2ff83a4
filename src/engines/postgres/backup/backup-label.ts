/** What a `backup_label` file (written by pg_backup_stop or pg_basebackup) says about where recovery starts. */
export interface BackupLabel {
  readonly startLsn: string;
  /** The segment holding the start LSN, named on the start timeline. */
  readonly startWalFile: string;
  readonly checkpointLsn: string | undefined;
  readonly timeline: number;
  readonly label: string | undefined;
  readonly startTime: string | undefined;
}

/** Parses backup_label text; throws a RangeError naming the missing line when the text is not a backup label. */
export function parseBackupLabel(text: string): BackupLabel {
  const start = /^START WAL LOCATION: ([0-9A-F]+\/[0-9A-F]+) \(file ([0-9A-F]{24})\)$/m.exec(text);
  if (!start) throw new RangeError('backup_label has no "START WAL LOCATION" line');
  const timeline = /^START TIMELINE: (\d+)$/m.exec(text);
  return {
    startLsn: start[1]!,
    startWalFile: start[2]!,
    checkpointLsn: /^CHECKPOINT LOCATION: ([0-9A-F]+\/[0-9A-F]+)$/m.exec(text)?.[1],
    // Before PostgreSQL 11 there is no START TIMELINE line; the start file's name carries the timeline too.
    timeline: timeline ? Number(timeline[1]) : Number.parseInt(start[2]!.slice(0, 8), 16),
    label: /^LABEL: (.*)$/m.exec(text)?.[1],
    startTime: /^START TIME: (.*)$/m.exec(text)?.[1],
  };
}
