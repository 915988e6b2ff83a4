/** What an engine can do, declared by each adapter so that callers ask before they rely on it (DESIGN principle 2). */
export type IsolationLevel = 'read uncommitted' | 'read committed' | 'repeatable read' | 'serializable';

/**
 * How an engine can take part in a distributed transaction:
 * - `xa`: it can prepare a transaction durably and commit or roll it back later from any session;
 * - `one-phase`: it can commit atomically but cannot prepare (at most one such participant, committed last);
 * - `none`: no atomic multi-statement commit at all.
 */
export type TwoPhaseKind = 'xa' | 'one-phase' | 'none';

export interface AdapterCapabilities {
  /** Accepts SQL text through `query`/`execute`. */
  readonly sql: boolean;
  readonly transactions: boolean;
  readonly savepoints: boolean;
  /** Levels accepted by `transaction({isolationLevel})`; any other level is a CapabilityError, never a downgrade. */
  readonly isolationLevels: readonly IsolationLevel[];
  readonly readOnlyTransactions: boolean;
  /** DDL (CREATE/ALTER/DROP) rolls back with the transaction. */
  readonly transactionalDdl: boolean;
  readonly twoPhase: TwoPhaseKind;
  readonly physicalBackup: boolean;
  readonly pointInTimeRecovery: boolean;
  readonly replicationControl: boolean;
}
