import { DatakeepError } from '../../../errors/index.js';

export type PostgresBackupErrorReason =
  /** WAL segments between the backup's start and stop never reached the repository's archive. */
  | 'wal-missing'
  /** The WAL archive has a gap (wal check). */
  | 'wal-gap'
  /** `wal push` refused a file that is not a whole segment of the name it carries (truncated, renamed, not WAL). */
  | 'wal-invalid'
  /** `wal push` refused a timeline the archive does not expect (a restored or cloned cluster archiving into its
   * source's repository); nothing was stored, so PostgreSQL keeps the file and retries. */
  | 'wal-timeline'
  /** The server, the data directory or a tool did not do what the backup needs. */
  | 'backup-failed'
  /** No backup (or no parent backup) matches the request. */
  | 'backup-not-found'
  /** The backup's chunks or manifest are missing or corrupt: nothing was restored. */
  | 'backup-corrupt'
  /** The restore destination is unsafe (a running cluster, a non-empty directory). */
  | 'unsafe-destination'
  /** The restored cluster did not reach its recovery target or did not start. */
  | 'recovery-failed'
  /** The recovery target cannot be reached from the repository (before every usable backup, past the archive's end,
   * or in the future); refused before anything was written. */
  | 'target-unreachable'
  /** The WAL prefetcher of a restore stopped (repository unreadable or too slow); restore_command fetches each segment
   * itself meanwhile, so recovery goes on, only slower. */
  | 'wal-prefetch-stopped';

/** A PostgreSQL physical backup, WAL archive or restore operation failed. `reason` is stable; the message says what to do. */
export class PostgresBackupError extends DatakeepError {
  readonly reason: PostgresBackupErrorReason;
  /** WAL segment names or repository paths the error is about (missing segments, corrupt files). */
  readonly items: readonly string[];

  constructor(reason: PostgresBackupErrorReason, message: string, options: { items?: readonly string[]; cause?: unknown } = {}) {
    super('DK_BACKUP', message, options);
    this.reason = reason;
    this.items = Object.freeze([...(options.items ?? [])]);
  }
}
