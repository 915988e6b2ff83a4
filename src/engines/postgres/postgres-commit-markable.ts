import type { IsolationLevel } from '../../adapters/capabilities.js';
import type { SqlDatabaseAdapter } from '../../adapters/database-adapter.js';
import type { CommitMarkableParticipant, CommitMarkedBranch } from '../../transactions/commit-markable.js';
import type { BranchId } from '../../transactions/transaction-ids.js';
import type { Decision } from '../../transactions/transaction-types.js';
import { PostgresBranch } from './postgres-branch.js';
import { commitWithDecisionRow, decideAbort, ensureDecisionTable, oldDecisions, readDecisions, removeDecisions } from './postgres-decision-table.js';
import { postgresGid } from './postgres-gid.js';

/**
 * PostgreSQL as the commit-markable participant of a distributed transaction: its branch is never prepared; after
 * every other branch prepared it writes the decision row into `datakeep_tx_decisions` of its own database and commits,
 * in one round trip, and that commit is the decision (see commit-markable.ts).
 */
export class PostgresCommitMarkable implements CommitMarkableParticipant {
  constructor(private readonly adapter: SqlDatabaseAdapter) {}

  get adapterId(): string {
    return this.adapter.id;
  }

  ready(): Promise<void> {
    return ensureDecisionTable(this.adapter);
  }

  begin(id: BranchId, options: { isolationLevel?: IsolationLevel; deadline: number }): Promise<CommitMarkedBranch> {
    return PostgresBranch.begin(this.adapter, postgresGid(id), id.branch, { ...options, decisionRow: commitWithDecisionRow(id.nodeId, id.globalId) });
  }

  peek(globalIds: readonly string[]): Promise<Map<string, Decision>> {
    return readDecisions(this.adapter, globalIds);
  }

  decideAbort(nodeId: string, globalId: string): Promise<Decision> {
    return decideAbort(this.adapter, nodeId, globalId);
  }

  forget(globalIds: readonly string[]): Promise<void> {
    return removeDecisions(this.adapter, globalIds);
  }

  leftovers(nodeId: string, olderThanMs: number, limit: number): Promise<string[]> {
    return oldDecisions(this.adapter, nodeId, olderThanMs, limit);
  }
}
