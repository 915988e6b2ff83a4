import type { BackupSession } from './postgres-session.js';

/** What a backup records about the server and needs to compute WAL names. */
export interface ServerFacts {
  readonly versionNum: number;
  readonly version: string;
  readonly systemIdentifier: string;
  readonly walSegmentSize: number;
  readonly blockSize: number;
  readonly archiveMode: string;
  readonly inRecovery: boolean;
  /** Undefined when the role may not read it (needs superuser or pg_read_all_settings). */
  readonly dataDirectory: string | undefined;
}

export async function readServerFacts(session: BackupSession): Promise<ServerFacts> {
  const [row] = await session.query<{
    version_num: string; version: string; system_identifier: string; wal_segment_size: string; block_size: string;
    archive_mode: string; in_recovery: boolean;
  }>(`SELECT current_setting('server_version_num') AS version_num,
             current_setting('server_version') AS version,
             (SELECT system_identifier::text FROM pg_control_system()) AS system_identifier,
             (SELECT bytes_per_wal_segment::text FROM pg_control_init()) AS wal_segment_size,
             current_setting('block_size') AS block_size,
             current_setting('archive_mode') AS archive_mode,
             pg_is_in_recovery() AS in_recovery`);
  if (!row) throw new Error('server facts query returned no row');
  let dataDirectory: string | undefined;
  try {
    const [dir] = await session.query<{ dir: string }>(`SELECT current_setting('data_directory') AS dir`);
    dataDirectory = dir?.dir;
  } catch {
    dataDirectory = undefined;
  }
  return {
    versionNum: Number(row.version_num),
    version: row.version,
    systemIdentifier: row.system_identifier,
    walSegmentSize: Number(row.wal_segment_size),
    blockSize: Number(row.block_size),
    archiveMode: row.archive_mode,
    inRecovery: row.in_recovery,
    dataDirectory,
  };
}
