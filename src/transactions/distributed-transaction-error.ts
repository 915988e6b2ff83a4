import { TransactionError } from '../errors/index.js';
import type { Decision, DistributedOutcome } from './transaction-types.js';

/**
 * A distributed transaction that did not commit everywhere. `outcome` says what is known: `aborted` (nothing was
 * committed anywhere), `in-doubt` (recovery will finish it; `decision` says which way when one was recorded), or
 * `heuristic-mixed` (participants disagree; `list()`/`datakeep tx list` show which). Code DK_TRANSACTION, so callers
 * that handle TransactionError keep working; the participant's own error, when there is one, is the `cause`.
 */
export class DistributedTransactionError extends TransactionError {
  readonly globalId: string;
  readonly outcome: Exclude<DistributedOutcome, 'committed'>;
  readonly decision: Decision | undefined;

  constructor(
    globalId: string,
    outcome: Exclude<DistributedOutcome, 'committed'>,
    message: string,
    options: { decision?: Decision; cause?: unknown; adapterId?: string } = {},
  ) {
    super(options.adapterId ?? 'distributed', `transaction ${globalId} ${outcome}: ${message}`, { cause: options.cause });
    this.globalId = globalId;
    this.outcome = outcome;
    this.decision = options.decision;
  }
}
