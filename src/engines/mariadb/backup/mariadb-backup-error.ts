import { DatakeepError } from '../../../errors/index.js';

export type MariadbBackupErrorReason =
  /** The server could not be reached or asked what the backup needs (nothing was stored). */
  | 'server-unreachable'
  /** mariadb-backup, mbstream or mariadb-binlog failed or is missing; nothing was stored for the backup. */
  | 'backup-failed'
  /** No backup (or no parent backup) matches the request. */
  | 'backup-not-found'
  /** The binlog archive has a hole: a piece or a whole binlog file is missing between two archived ones. */
  | 'binlog-gap'
  /** Binlog numbering restarted or a file changed under the same name (RESET MASTER, a new server): not archived. */
  | 'binlog-conflict'
  /** The restore destination is unsafe (not empty, not reachable by the server's OS user). */
  | 'unsafe-destination'
  /** Preparing the backup, starting the restored server or replaying the binlog failed. */
  | 'restore-failed'
  /** The target time lies outside what the repository can reach (before every backup, after the archive's end). */
  | 'target-unreachable';

/** A MariaDB backup, binlog archive or restore operation failed. `reason` is stable; the message says what to do. */
export class MariadbBackupError extends DatakeepError {
  readonly reason: MariadbBackupErrorReason;
  /** Binlog pieces or files the error is about. */
  readonly items: readonly string[];

  constructor(reason: MariadbBackupErrorReason, message: string, options: { items?: readonly string[]; cause?: unknown } = {}) {
    super('DK_BACKUP', message, options);
    this.reason = reason;
    this.items = Object.freeze([...(options.items ?? [])]);
  }
}
