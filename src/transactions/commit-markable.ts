import type { IsolationLevel } from '../adapters/capabilities.js';
import type { TransactionContext } from '../adapters/database-adapter.js';
import type { BranchId } from './transaction-ids.js';
import type { Decision } from './transaction-types.js';

/**
 * A commit-markable resource (Narayana's CMR): an engine that can prepare, but whose branch in a distributed
 * transaction is committed in one phase instead, last, together with a **decision row** (the global id) written in the
 * same local transaction. That commit is the commit decision: no prepare, no commit-prepared and no coordinator-log
 * write for this branch. Every other branch's transaction id names the database that holds the decision, so recovery
 * reads it there even when the coordinator log lost the transaction.
 *
 * Deciding from outside (recovery, an operator, a coordinator that lost its connection during the commit) never reads
 * and then writes: it inserts an `abort` row under the same key. A commit still in flight holds that key, so the insert
 * waits for it; then either the commit won (the row says `commit`) or the insert did, and the late commit fails on the
 * key. One row per global id, written once: the decision cannot change.
 */
export interface CommitMarkableParticipant {
  readonly adapterId: string;
  /**
   * Prepares the engine's side once per adapter and process (PostgreSQL: creates the decision table if it is missing).
   * Rejects when it cannot (no privilege to create it): the coordinator then prepares this participant as usual.
   */
  ready(): Promise<void>;
  begin(id: BranchId, options: { isolationLevel?: IsolationLevel; deadline: number }): Promise<CommitMarkedBranch>;
  /** The recorded decision of each id that has one (a committed row); ids without a row are left out. */
  peek(globalIds: readonly string[]): Promise<Map<string, Decision>>;
  /**
   * Decides a transaction that has no row yet as `abort`, waiting for a commit in flight under the same key: resolves
   * with the decision that holds afterwards (`commit` when that commit won).
   */
  decideAbort(nodeId: string, globalId: string): Promise<Decision>;
  /** Removes decision rows once every branch of their transactions finished (one statement for all of them). */
  forget(globalIds: readonly string[]): Promise<void>;
  /** Decision rows of `nodeId` older than `olderThanMs` (for the clean-up of rows whose removal was lost), at most `limit`. */
  leftovers(nodeId: string, olderThanMs: number, limit: number): Promise<string[]>;
}

/** The branch that holds the decision: the caller's work, then one commit that writes the decision row with it. */
export interface CommitMarkedBranch {
  readonly adapterId: string;
  readonly branch: string;
  readonly context: TransactionContext;
  /**
   * Writes the decision row and commits, in one round trip, durably. Resolves: committed (the transaction is
   * decided). Rejects with the server's error: not committed. Rejects with a connection or timeout error: unknown,
   * ask `decideAbort`.
   */
  commitWithDecision(): Promise<void>;
  /** Rolls back the local transaction; never throws for a branch already gone. */
  rollback(): Promise<void>;
  /** Lets go of the session without waiting for anything. Never throws. */
  release(): Promise<void>;
}
