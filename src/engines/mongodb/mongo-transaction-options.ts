import type { Document } from 'mongodb';
import type { Row, TransactionContext, TransactionOptions } from '../../adapters/database-adapter.js';

export const READ_CONCERNS = ['majority', 'snapshot', 'local'] as const;
export type ReadConcernLevel = (typeof READ_CONCERNS)[number];

/** MongoDB-specific transaction options, on top of the contract's. */
export interface MongoTransactionOptions extends TransactionOptions {
  /** Default "majority": the transaction reads data a majority acknowledged. "snapshot" adds one point in time across shards. */
  readConcern?: ReadConcernLevel;
  /** Default `{w: "majority"}`: the commit returns once a majority of members has it. */
  writeConcern?: { w?: number | 'majority'; journal?: boolean; wtimeoutMS?: number };
  /** Cap on the whole call, body re-runs and commit retries included (default 120000 or options.transactionTimeLimitMs). */
  timeLimitMs?: number;
  /** Server-side limit of each commitTransaction. */
  maxCommitTimeMS?: number;
}

/** The handle a MongoDB transaction callback receives: the contract's, plus `command()` with any result shape. */
export interface MongoTransactionContext extends TransactionContext {
  query<T extends Row = Row>(command: string | Document, params?: readonly unknown[]): Promise<T[]>;
  execute(command: string | Document, params?: readonly unknown[]): Promise<number>;
  command(command: string | readonly unknown[] | Document): Promise<unknown>;
}
