import { DatakeepError } from './datakeep-error.js';

/** A transaction could not be completed: retries exhausted, or misuse such as a savepoint outside a transaction. */
export class TransactionError extends DatakeepError {
  readonly adapterId: string;
  readonly attempts: number;

  constructor(adapterId: string, message: string, options: { attempts?: number; cause?: unknown } = {}) {
    super('DK_TRANSACTION', `${adapterId}: ${message}`, options);
    this.adapterId = adapterId;
    this.attempts = options.attempts ?? 1;
  }
}
