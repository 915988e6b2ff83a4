import { DatakeepError } from './datakeep-error.js';

export type MigrationErrorReason =
  | 'lock-timeout'
  | 'lock-lost'
  | 'checksum-mismatch'
  | 'out-of-order'
  | 'missing-down'
  | 'failed'
  | 'interrupted'
  | 'not-allowed-in-transaction'
  | 'unknown-version'
  | 'invalid-state';

/** A migration could not run or be reverted. `reason` is stable; the message says what to do. */
export class MigrationError extends DatakeepError {
  readonly reason: MigrationErrorReason;
  readonly database: string;
  readonly version: string | undefined;

  constructor(reason: MigrationErrorReason, database: string, message: string, options: { version?: string; cause?: unknown } = {}) {
    super('DK_MIGRATION', `${database}: ${message}`, options);
    this.reason = reason;
    this.database = database;
    this.version = options.version;
  }
}
