import type { BackupManifest, BackupType } from '../../repository/repository-types.js';

/** A wait for WAL segments to reach the repository's archive, as reported while it lasts (at least once a second). */
export interface WalWaiting {
  /** The first segment still missing. */
  readonly segment: string;
  /** Whole seconds waited so far. */
  readonly seconds: number;
  /** Segments of the wait already in the repository. */
  readonly archived: number;
  readonly total: number;
}

export interface PostgresBackupProgress {
  /** The id the backup will have once complete (known from the start, for progress displays and logs). */
  readonly backupId: string;
  /**
   * 'checking-archive' comes before anything is copied: one freshly switched WAL segment must reach the repository,
   * which proves that archive_command feeds it.
   */
  readonly phase: 'starting' | 'checking-archive' | 'copying' | 'waiting-for-wal' | 'completing';
  readonly filesTotal: number;
  readonly filesDone: number;
  readonly filesReused: number;
  /**
   * Plaintext bytes of all the files, as far as known: the data directory's file sizes at the walk, corrected as each
   * file is read (files grow and shrink while the server runs); over the replication protocol, the server's estimate.
   * 0 while unknown.
   */
  readonly bytesTotal: number;
  /** Plaintext bytes of the files done so far (reused files count with their size). */
  readonly bytesDone: number;
  readonly bytesStored: number;
  /** In phases 'checking-archive' and 'waiting-for-wal': what is waited for, and since when. */
  readonly walWaiting?: WalWaiting;
}

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
