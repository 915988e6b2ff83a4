import { DatakeepError } from '../../../errors/index.js';

export type RedisBackupErrorReason =
  /** The server could not be reached, refused the credentials, or broke the replication link. */
  | 'connection-failed'
  /** The server answered the replication handshake with something other than what the protocol says. */
  | 'protocol'
  /** A wait (connect, handshake, snapshot, restored server start) passed its limit. */
  | 'timeout'
  /** No backup matches the request. */
  | 'backup-not-found'
  /** The command stream in the repository has a hole where a restore needs it. */
  | 'stream-gap'
  /** The target time lies outside what the repository can reach. */
  | 'target-unreachable'
  /** The destination is unsafe (a non-empty directory, keys that exist on a live target). */
  | 'unsafe-destination'
  /** A restored or scratch redis-server did not start, or replay/copy was refused by it. */
  | 'restore-failed';

/** A Redis backup, stream capture or restore failed. `reason` is stable; the message says what to do. */
export class RedisBackupError extends DatakeepError {
  readonly reason: RedisBackupErrorReason;

  constructor(reason: RedisBackupErrorReason, message: string, options: { cause?: unknown } = {}) {
    super('DK_BACKUP', message, options);
    this.reason = reason;
  }
}
