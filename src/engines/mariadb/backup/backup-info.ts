/** What mariadb-backup says about a backup it made (`--extra-lsndir`: xtrabackup_checkpoints and xtrabackup_info). */
export interface MariadbBackupInfo {
  readonly fromLsn: string;
  readonly toLsn: string;
  /** The binlog position the copied data is consistent with (mariadb-backup takes it under BACKUP STAGE BLOCK_COMMIT). */
  readonly binlog: { readonly file: string; readonly position: number; readonly gtid: string | undefined } | undefined;
  readonly serverVersion: string | undefined;
  /** `end_time`, in the server host's local time zone as mariadb-backup writes it. */
  readonly endTime: string | undefined;
}

/** `key = value` lines. */
function fields(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) out.set(line.slice(0, at).trim(), line.slice(at + 1).trim());
  }
  return out;
}

export function parseBackupInfo(checkpoints: string, info: string): MariadbBackupInfo {
  const lsn = fields(checkpoints);
  const facts = fields(info);
  const toLsn = lsn.get('to_lsn');
  if (toLsn === undefined || !/^\d+$/.test(toLsn)) throw new Error(`xtrabackup_checkpoints has no to_lsn (got ${JSON.stringify(checkpoints.slice(0, 200))})`);
  // binlog_pos = filename 'binlog.000001', position '816', GTID of the last change '0-7-3'
  const pos = /filename '([^']+)', position '(\d+)'(?:, GTID of the last change '([^']*)')?/.exec(facts.get('binlog_pos') ?? '');
  return {
    fromLsn: lsn.get('from_lsn') ?? '0',
    toLsn,
    binlog: pos ? { file: pos[1]!, position: Number(pos[2]), gtid: pos[3] || undefined } : undefined,
    serverVersion: facts.get('server_version'),
    endTime: facts.get('end_time'),
  };
}
