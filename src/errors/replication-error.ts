import { DatakeepError } from './datakeep-error.js';

export type ReplicationErrorReason =
  | 'timeout'
  | 'unreachable'
  | 'no-candidate'
  | 'not-leader'
  | 'not-a-replica'
  | 'not-a-primary'
  | 'split-brain'
  | 'local-only'
  | 'refused'
  | 'failed';

/** A replication step could not be done: `node` and `step` say where, `reason` what kind of failure. */
export class ReplicationError extends DatakeepError {
  readonly reason: ReplicationErrorReason;
  readonly node: string | undefined;
  readonly step: string | undefined;

  constructor(reason: ReplicationErrorReason, message: string, options: { node?: string; step?: string; cause?: unknown } = {}) {
    super('DK_REPLICATION', message, options);
    this.reason = reason;
    this.node = options.node;
    this.step = options.step;
  }
}
