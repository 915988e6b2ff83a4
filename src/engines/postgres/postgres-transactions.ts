import type { TransactionPart } from '../../transactions/transaction-part.js';
import { asSqlAdapter } from '../sql/as-sql-adapter.js';
import { PostgresParticipant } from './postgres-participant.js';

/** PostgreSQL prepares (PREPARE TRANSACTION) and bounds a local transaction with `SET LOCAL statement_timeout`. */
export const postgresTransactions: TransactionPart = {
  xaParticipant: (adapter) => new PostgresParticipant(asSqlAdapter(adapter)),
  deadline: { begin: (msLeft) => `SET LOCAL statement_timeout = ${Math.max(1, Math.ceil(msLeft))}` },
};
