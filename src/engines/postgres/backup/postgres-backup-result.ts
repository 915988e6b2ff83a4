import type { BackupManifest, BackupType } from '../../../repository/repository-types.js';

export type { BackupProgress as PostgresBackupProgress, WalWaiting } from '../../../backup/backup-types.js';

/** What a completed PostgreSQL backup reports (the manager turns it into the seed's createBackup result). */
export interface PostgresBackupResult {
  readonly backupId: string;
  readonly type: BackupType;
  readonly parent: string | undefined;
  readonly startedAt: string;
  readonly finishedAt: string;
  /** Plaintext bytes of every file of the backup (reused ones included). */
  readonly sizeBytes: number;
  /** Bytes this backup added to the repository (after dedup and compression). */
  readonly storedBytes: number;
  readonly startLsn: string;
  readonly stopLsn: string;
  readonly timeline: number;
  /** WAL segments from the start to the stop LSN, all present in the repository's archive. */
  readonly walSegments: readonly string[];
  readonly manifest: BackupManifest;
}
