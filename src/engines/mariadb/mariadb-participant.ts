import type { IsolationLevel } from '../../adapters/capabilities.js';
import type { TransactionContext } from '../../adapters/database-adapter.js';
import { CapabilityError, QueryError, TransactionError } from '../../errors/index.js';
import type { MariadbAdapter } from './mariadb-adapter.js';
import type { XaBranch } from './mariadb-xa-branch.js';
import { sqlBranchContext, type BranchState } from '../sql/sql-branch-context.js';
import type { BranchId } from '../../transactions/transaction-ids.js';
import { mariadbXid, splitMariadbBranch } from './mariadb-xid.js';
import type { PreparedBranch } from '../../transactions/transaction-types.js';
import type { FinishResult, XaBranchHandle, XaParticipant } from '../../transactions/xa-participant.js';

/**
 * MariaDB/MySQL as an XA participant, on the adapter's XA primitives. A prepared branch stays attached to its session
 * until that session ends, so phase 2 runs on the branch's own session; recovery finishes branches whose session died
 * with the coordinator.
 */
export class MariadbParticipant implements XaParticipant {
  readonly type: string;
  readonly preparedScope = 'server';

  constructor(private readonly adapter: MariadbAdapter) {
    this.type = adapter.type;
  }

  get adapterId(): string {
    return this.adapter.id;
  }

  async begin(id: BranchId, options: { isolationLevel?: IsolationLevel; deadline: number }): Promise<XaBranchHandle> {
    const branch = await this.adapter.xa.start(mariadbXid(id));
    try {
      if (options.isolationLevel) await checkIsolation(this.adapter, branch, options.isolationLevel);
    } catch (error) {
      await branch.rollback().catch(() => undefined);
      throw error;
    }
    return new MariadbBranch(this.adapter.id, id.branch, branch, options.deadline);
  }

  async listPrepared(options: { all?: boolean } = {}): Promise<PreparedBranch[]> {
    const found = await this.adapter.xa.recover();
    return found
      .filter((r) => options.all || r.datakeep !== undefined)
      .map((r) => {
        const split = r.datakeep ? splitMariadbBranch(r.datakeep.branch) : undefined;
        return {
          adapterId: this.adapter.id,
          type: this.type,
          transactionId: r.datakeep ? `${r.datakeep.nodeId}:${r.datakeep.globalId}:${r.datakeep.branch}` : `${r.xid.formatId}:${r.xid.gtrid.toString('hex')}:${r.xid.bqual.toString('hex')}`,
          nodeId: r.datakeep?.nodeId,
          globalId: r.datakeep?.globalId,
          branch: split?.branch ?? r.datakeep?.branch,
          decidedBy: split?.decidedBy,
          preparedAt: undefined,
        };
      });
  }

  async finish(id: BranchId, commit: boolean): Promise<FinishResult> {
    const xid = mariadbXid(id);
    const done = commit ? await this.adapter.xa.commit(xid) : await this.adapter.xa.rollback(xid);
    if (done) return 'done';
    // XAER_NOTA: either gone, or still attached to a live session (its coordinator's session has not ended yet).
    const bqual = mariadbXid(id).bqual.toString('utf8');
    const listed = (await this.adapter.xa.recover({ ownedBy: id.nodeId })).some((r) => r.datakeep?.globalId === id.globalId && r.datakeep.branch === bqual);
    return listed ? 'attached' : 'not-found';
  }

  async cannotPrepare(): Promise<string | undefined> {
    return undefined;
  }
}

class MariadbBranch implements XaBranchHandle {
  readonly context: TransactionContext;
  readonly #xa: XaBranch;
  readonly #state: BranchState = { aborted: false, closed: false };

  constructor(readonly adapterId: string, readonly branch: string, xa: XaBranch, deadline: number) {
    this.#xa = xa;
    // MariaDB bounds each statement with what is left of the transaction's time, without an extra round trip.
    const bounded = (sql: string) => {
      const seconds = Math.max(0.001, (deadline - Date.now()) / 1000);
      return `SET STATEMENT max_statement_time=${seconds.toFixed(3)} FOR ${sql}`;
    };
    this.context = sqlBranchContext(adapterId, {
      query: (sql, params) => xa.query(bounded(sql), params),
      execute: (sql, params) => (/^\s*(SAVEPOINT|ROLLBACK|RELEASE)\b/i.test(sql) ? xa.execute(sql, params) : xa.execute(bounded(sql), params)),
    }, this.#state, deadline);
  }

  async prepare(): Promise<void> {
    this.#state.closed = true;
    if (this.#state.aborted) {
      await this.rollback();
      throw new TransactionError(this.adapterId, `branch ${this.branch}: a statement failed and was not rolled back to a savepoint, so the branch cannot be prepared; every participant rolls back`);
    }
    await this.#xa.prepare();
  }

  async commit(): Promise<void> {
    await this.#xa.commit();
  }

  async release(): Promise<void> {
    if (this.#xa.state === 'prepared') await this.#xa.detach().catch(() => undefined);
  }

  async rollback(): Promise<void> {
    this.#state.closed = true;
    const state = this.#xa.state;
    if (state !== 'active' && state !== 'idle' && state !== 'prepared') return;
    try {
      await this.#xa.rollback();
    } catch (error) {
      // The branch's session broke: an unprepared branch dies with it; a prepared one is left to recovery.
      if (!(error instanceof QueryError)) throw error;
    }
  }
}

async function checkIsolation(adapter: MariadbAdapter, branch: XaBranch, level: IsolationLevel): Promise<void> {
  // A failed statement would poison the branch, so ask for the variable this server has: MySQL removed tx_isolation,
  // MariaDB before 11.1 has only tx_isolation (later versions keep it as an alias).
  const variable = adapter.server?.mariadb === false ? '@@session.transaction_isolation' : '@@session.tx_isolation';
  const rows = await branch.query<{ level: string }>(`SELECT ${variable} AS level`);
  const current = String(rows[0]?.level);
  const wanted = level.toUpperCase().replace(' ', '-');
  if (current !== wanted) {
    throw new CapabilityError(
      adapter.id,
      `isolation level "${level}" in an XA branch`,
      `an XA branch runs at the session's level (${current}), which cannot change once XA START has run`,
      `Set transaction_isolation = '${wanted}' for the server (SET GLOBAL transaction_isolation, or my.cnf), or leave isolationLevel unset`,
    );
  }
}
