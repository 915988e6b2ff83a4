import type { DatabaseAdapter } from '../adapters/database-adapter.js';
import type { CommitMarkableParticipant } from './commit-markable.js';
import type { LastResource } from './last-resource.js';
import type { XaParticipant } from './xa-participant.js';

/**
 * How an engine bounds a local transaction by a deadline. Unless the adapter takes the limit itself, every engine also
 * gets datakeep's checks: statements after the deadline are refused; a callback that returns after it is rolled back.
 */
export interface LocalDeadline {
  /**
   * Options handed to the adapter's `transaction()` that carry the limit (MongoDB: `timeLimitMs`); the adapter then
   * enforces the whole limit itself, and the checks below are not added.
   */
  adapterOptions?(timeoutMs: number): Record<string, unknown>;
  /** A statement run first in the transaction with the time left (PostgreSQL: `SET LOCAL statement_timeout`). */
  begin?(msLeft: number): string;
  /** Wraps each statement so that the server stops it at the deadline (MariaDB: `SET STATEMENT ... FOR`). */
  statement?(sql: string, msLeft: number): string;
}

/**
 * What an engine offers the transaction manager (the `transactions` part of its definition). An engine that can
 * prepare offers `xaParticipant`; one that can only commit atomically offers `lastResource`. One that can also hold
 * the decision of a distributed transaction in a row committed with its own work offers `commitMarkable`.
 */
export interface TransactionPart {
  xaParticipant?(adapter: DatabaseAdapter): XaParticipant;
  commitMarkable?(adapter: DatabaseAdapter): CommitMarkableParticipant;
  lastResource?(adapter: DatabaseAdapter): LastResource;
  readonly deadline?: LocalDeadline;
}
