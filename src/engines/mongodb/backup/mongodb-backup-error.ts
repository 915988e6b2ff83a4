import { DatakeepError } from '../../../errors/index.js';

export type MongodbBackupErrorReason =
  /** The server refused or failed a read the backup needs (listCollections, a cursor, the oplog). */
  | 'backup-failed'
  /** The oplog no longer holds the entry the capture must continue from (it rolled over): entries are lost. */
  | 'oplog-gap'
  /** No backup matches the request (id, database, or a target time before every backup). */
  | 'backup-not-found'
  /** A collection file or an oplog slice is missing, corrupt or not what its header says: nothing more was written. */
  | 'backup-corrupt'
  /** The restore target already holds collections the backup would write into. */
  | 'unsafe-target'
  /** The target time cannot be reached: after the end of the unbroken oplog, or in the future. */
  | 'target-unreachable'
  /** An oplog entry the target server cannot apply (a command or a diff update without applyOps). */
  | 'replay-failed';

/** A MongoDB logical backup, oplog capture or restore failed. `reason` is stable; the message says what to do. */
export class MongodbBackupError extends DatakeepError {
  readonly reason: MongodbBackupErrorReason;
  /** Collections, files or oplog slices the error is about. */
  readonly items: readonly string[];

  constructor(reason: MongodbBackupErrorReason, message: string, options: { items?: readonly string[]; cause?: unknown } = {}) {
    super('DK_BACKUP', message, options);
    this.reason = reason;
    this.items = Object.freeze([...(options.items ?? [])]);
  }
}
