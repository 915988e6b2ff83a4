import { ConnectionError } from './connection-error.js';

/**
 * A statement failed because the primary changed or went away under it (a failover, a switchover, a fenced node).
 * `mayHaveCommitted` is false only when the statement certainly did not commit (it was never sent, it was refused,
 * or its transaction had not reached COMMIT); when true, check before retrying a non-idempotent write.
 */
export class FailoverError extends ConnectionError {
  readonly mayHaveCommitted: boolean;
  /** The node the adapter points at now, when known. */
  readonly primary: string | undefined;

  constructor(adapterId: string, message: string, options: { mayHaveCommitted: boolean; primary?: string; cause?: unknown }) {
    super(adapterId, message, { cause: options.cause, retriable: !options.mayHaveCommitted, outcomeUnknown: options.mayHaveCommitted });
    this.mayHaveCommitted = options.mayHaveCommitted;
    this.primary = options.primary;
  }
}
