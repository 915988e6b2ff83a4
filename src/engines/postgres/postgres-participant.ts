import type { IsolationLevel } from '../../adapters/capabilities.js';
import type { SqlDatabaseAdapter } from '../../adapters/database-adapter.js';
import { QueryError } from '../../errors/index.js';
import { PostgresBranch } from './postgres-branch.js';
import type { BranchId } from '../../transactions/transaction-ids.js';
import { gidLiteral, parsePostgresGid, postgresGid } from './postgres-gid.js';
import type { PreparedBranch } from '../../transactions/transaction-types.js';
import type { FinishResult, XaBranchHandle, XaParticipant } from '../../transactions/xa-participant.js';

/**
 * PostgreSQL as an XA participant: PREPARE TRANSACTION on the branch's session, COMMIT/ROLLBACK PREPARED from any
 * session connected to the same database (PostgreSQL requires that), pg_prepared_xacts for recovery.
 */
export class PostgresParticipant implements XaParticipant {
  readonly type = 'postgresql';
  readonly preparedScope = 'database';

  constructor(private readonly adapter: SqlDatabaseAdapter) {}

  get adapterId(): string {
    return this.adapter.id;
  }

  begin(id: BranchId, options: { isolationLevel?: IsolationLevel; deadline: number }): Promise<XaBranchHandle> {
    return PostgresBranch.begin(this.adapter, postgresGid(id), id.branch, options);
  }

  /** Prepared transactions of this adapter's database (pg_prepared_xacts is cluster-wide; COMMIT PREPARED is not). */
  async listPrepared(options: { all?: boolean } = {}): Promise<PreparedBranch[]> {
    const rows = await this.adapter.query<{ gid: string; prepared: Date }>(
      options.all
        ? 'SELECT gid, prepared FROM pg_prepared_xacts WHERE database = current_database() ORDER BY prepared'
        : "SELECT gid, prepared FROM pg_prepared_xacts WHERE database = current_database() AND left(gid, 3) = 'dk:' ORDER BY prepared",
    );
    return rows.map((r) => {
      const parts = parsePostgresGid(r.gid);
      return {
        adapterId: this.adapter.id,
        type: this.type,
        transactionId: r.gid,
        nodeId: parts?.nodeId,
        globalId: parts?.globalId,
        branch: parts?.branch,
        decidedBy: parts?.decidedBy,
        preparedAt: r.prepared,
      };
    });
  }

  async finish(id: BranchId, commit: boolean): Promise<FinishResult> {
    try {
      await this.adapter.execute(`${commit ? 'COMMIT' : 'ROLLBACK'} PREPARED ${gidLiteral(postgresGid(id))}`);
      return 'done';
    } catch (error) {
      // 42704: no prepared transaction with that gid (in this database): someone finished it already.
      if (error instanceof QueryError && error.sqlState === '42704') return 'not-found';
      throw error;
    }
  }

  async cannotPrepare(): Promise<string | undefined> {
    const rows = await this.adapter.query<{ max: string }>("SELECT current_setting('max_prepared_transactions') AS max");
    const max = Number(rows[0]?.max ?? 0);
    return max === 0
      ? 'max_prepared_transactions = 0: this PostgreSQL server cannot take part in distributed transactions; set max_prepared_transactions (at least the number of concurrent distributed transactions, e.g. max_connections) in postgresql.conf and restart'
      : undefined;
  }
}
