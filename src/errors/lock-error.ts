import { DatakeepError } from './datakeep-error.js';

export type LockErrorReason = 'timeout' | 'lost';

/**
 * A lock could not be taken in time (`timeout`: the message names the holder) or was lost while held (`lost`: a
 * lease that could not be renewed, a session that died). `resource` names what the lock protects.
 * Subsystems turn it into their own error (a migration's `lock-timeout`) where their callers expect one.
 */
export class LockError extends DatakeepError {
  readonly reason: LockErrorReason;
  readonly resource: string;

  constructor(reason: LockErrorReason, resource: string, message: string, options: { cause?: unknown } = {}) {
    super('DK_LOCK', `${resource}: ${message}`, options);
    this.reason = reason;
    this.resource = resource;
  }
}
