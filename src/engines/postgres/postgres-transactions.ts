import type { TransactionPart } from '../../transactions/transaction-part.js';
import { asSqlAdapter } from '../sql/as-sql-adapter.js';
import { PostgresCommitMarkable } from './postgres-commit-markable.js';
import { PostgresParticipant } from './postgres-participant.js';

/**
 * PostgreSQL prepares (PREPARE TRANSACTION), can hold a distributed transaction's decision in a row committed with its
 * own branch (commit-markable), and bounds a local transaction with `SET LOCAL statement_timeout`.
 */
export const postgresTransactions: TransactionPart = {
  xaParticipant: (adapter) => new PostgresParticipant(asSqlAdapter(adapter)),
  commitMarkable: (adapter) => new PostgresCommitMarkable(asSqlAdapter(adapter)),
  deadline: { begin: (msLeft) => `SET LOCAL statement_timeout = ${Math.max(1, Math.ceil(msLeft))}` },
};
