import { integer, object, text } from './config-fields.js';
import { hint } from './parse-config.js';

/** The transaction coordinator's options: the `transactions` section, or `dm.transactions.configure()`. */
export interface TransactionManagerOptions {
  /** This coordinator's id in every transaction id (default: host name + hash of the state store location). */
  nodeId?: string;
  /** Milliseconds between recovery passes (default 30000); 0 turns periodic recovery off. */
  recoveryInterval?: number;
  /**
   * Milliseconds an undecided transaction must have existed before recovery rolls it back (default 60000). Keep it
   * above the longest distributed transaction: a live transaction caught by recovery is aborted, safely (the decision
   * is a compare-and-set in the log), but needlessly.
   */
  recoveryGrace?: number;
  /** Default `timeout` of distributed transactions (default 30000 ms). */
  defaultTimeout?: number;
  /** Prepared branches older than this are validation errors (default 600000 ms): they hold locks and block VACUUM. */
  stalePreparedAfter?: number;
}

/** The coordinator's defaults, for every option but nodeId (which is derived from the host and the state store). */
export const TRANSACTION_DEFAULTS = Object.freeze({ recoveryInterval: 30_000, recoveryGrace: 60_000, defaultTimeout: 30_000, stalePreparedAfter: 600_000 });

/** Node ids go into PostgreSQL gids and XA gtrids: short, and made of characters that need no quoting anywhere. */
export const NODE_ID = /^[A-Za-z0-9_.-]{1,32}$/;

const MS = ' (milliseconds)';
/** Node's timers take at most 2^31 - 1 ms (about 24.8 days); a longer delay would fire at once. */
const MAX_TIMER_MS = 2_147_483_647;

/** The options as given (in the file or to configure()); TRANSACTION_DEFAULTS fill the rest when the coordinator starts. */
export const transactionsSchema = object(
  {
    nodeId: text()
      .refine((id) => NODE_ID.test(id), {
        error: (iss) => hint(`expected 1 to 32 characters from A-Z a-z 0-9 _ . -, got ${JSON.stringify(iss.input)}`, 'Choose a short id: it goes into every prepared transaction id'),
      })
      .optional(),
    recoveryInterval: integer(0, MAX_TIMER_MS, MS).optional(),
    recoveryGrace: integer(0, MAX_TIMER_MS, MS).optional(),
    defaultTimeout: integer(1, MAX_TIMER_MS, MS).optional(),
    stalePreparedAfter: integer(0, MAX_TIMER_MS, MS).optional(),
  },
  'Write "transactions": {"nodeId": "...", "recoveryInterval": 30000}',
);
