import type { DatabaseAdapter } from '../../adapters/database-adapter.js';
import type { TransactionPart } from '../../transactions/transaction-part.js';
import type { MariadbAdapter } from './mariadb-adapter.js';
import { MariadbParticipant } from './mariadb-participant.js';

/** MariaDB prepares with XA, and bounds each statement of a local transaction with `SET STATEMENT ... FOR`. */
export const mariadbTransactions: TransactionPart = {
  xaParticipant: (adapter: DatabaseAdapter) => new MariadbParticipant(adapter as MariadbAdapter),
  deadline: {
    statement: (sql, msLeft) => `SET STATEMENT max_statement_time=${Math.max(0.001, msLeft / 1000).toFixed(3)} FOR ${sql}`,
  },
};
