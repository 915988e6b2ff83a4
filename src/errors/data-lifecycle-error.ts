import { DatakeepError } from './datakeep-error.js';

export type DataLifecycleErrorReason =
  | 'unknown-target'
  | 'unknown-column'
  | 'bad-condition'
  | 'no-key'
  | 'would-remove-all'
  | 'contended'
  | 'archive-mismatch'
  | 'archive-not-found'
  | 'restore-conflict'
  | 'unknown-policy';

/**
 * A data lifecycle policy (retention, archival, cleanup) cannot run, or a run stopped. `reason` is stable; `policy`
 * names the policy, and the message says what to change. (LifecycleError is another thing: a DataManager or adapter
 * used before initialize() or after close().)
 */
export class DataLifecycleError extends DatakeepError {
  readonly reason: DataLifecycleErrorReason;
  readonly policy: string | undefined;

  constructor(reason: DataLifecycleErrorReason, policy: string | undefined, message: string, options: { cause?: unknown } = {}) {
    super('DK_DATA_LIFECYCLE', policy === undefined ? message : `${policy}: ${message}`, options);
    this.reason = reason;
    this.policy = policy;
  }
}
