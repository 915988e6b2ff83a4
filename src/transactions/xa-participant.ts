import type { TransactionContext } from '../adapters/database-adapter.js';
import type { IsolationLevel } from '../adapters/capabilities.js';
import type { BranchId } from './transaction-ids.js';
import type { PreparedBranch } from './transaction-types.js';

/** One branch of a distributed transaction on an XA participant, from begin to its end. */
export interface XaBranchHandle {
  readonly adapterId: string;
  readonly branch: string;
  /** Statements of the caller's work, on the branch's own session. */
  readonly context: TransactionContext;
  /** Makes the branch durable; after it only commit or rollback are allowed. */
  prepare(): Promise<void>;
  /** Phase 2 commit of the prepared branch. */
  commit(): Promise<void>;
  /** Rolls back, prepared or not; never throws for a branch that is already gone. */
  rollback(): Promise<void>;
  /**
   * Lets go of a prepared branch left in doubt, so that recovery can finish it from another session (MariaDB keeps a
   * prepared branch attached to its session while the session lives). Never throws.
   */
  release(): Promise<void>;
}

/** What finishing a prepared branch from outside its session found. */
export type FinishResult = 'done' | 'not-found' | 'attached';

/** An adapter that can prepare: PostgreSQL (PREPARE TRANSACTION) or MariaDB/MySQL (XA). */
export interface XaParticipant {
  readonly adapterId: string;
  readonly type: string;
  /**
   * Whether `listPrepared` answers for this database alone (PostgreSQL's pg_prepared_xacts) or for the whole server
   * (MariaDB's XA RECOVER), so that two adapters on one server list the same branch once.
   */
  readonly preparedScope: 'database' | 'server';
  begin(id: BranchId, options: { isolationLevel?: IsolationLevel; deadline: number }): Promise<XaBranchHandle>;
  /** Prepared branches on the server: datakeep's (any node) and, when `all`, foreign ones too. */
  listPrepared(options?: { all?: boolean }): Promise<PreparedBranch[]>;
  /**
   * Commits or rolls back a prepared branch from any session. `not-found`: the server does not know it (finished
   * already). `attached`: the server lists it but it still belongs to a live session (MariaDB), so try again later.
   */
  finish(id: BranchId, commit: boolean): Promise<FinishResult>;
  /** Why this server cannot prepare, or undefined when it can (PostgreSQL: max_prepared_transactions = 0). */
  cannotPrepare(): Promise<string | undefined>;
}
