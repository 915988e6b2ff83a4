import type { IsolationLevel } from '../../adapters/capabilities.js';
import type { DedicatedSession, Row, SqlDatabaseAdapter, TransactionContext } from '../../adapters/database-adapter.js';
import { CapabilityError, QueryError, TransactionError } from '../../errors/index.js';
import { postgresBegin } from './postgres-isolation.js';
import { sqlBranchContext, type BranchState } from '../sql/sql-branch-context.js';
import { gidLiteral } from './postgres-gid.js';
import type { XaBranchHandle } from '../../transactions/xa-participant.js';
import type { CommitMarkedBranch } from '../../transactions/commit-markable.js';

/**
 * A PostgreSQL branch: BEGIN, the caller's statements and PREPARE TRANSACTION on one dedicated session (a prepared
 * transaction must be prepared by the session that did the work). After the prepare the transaction belongs to no
 * session: COMMIT PREPARED / ROLLBACK PREPARED may run from any session of the same database (recovery does so).
 */
export class PostgresBranch implements XaBranchHandle, CommitMarkedBranch {
  readonly adapterId: string;
  readonly branch: string;
  readonly context: TransactionContext;
  readonly #adapter: SqlDatabaseAdapter;
  readonly #gid: string;
  readonly #state: BranchState = { aborted: false, closed: false };
  #session: DedicatedSession | undefined;
  #release: (() => void) | undefined;
  #lifetime: Promise<void> | undefined;
  #prepared = false;
  #begun: Promise<void> = Promise.resolve();
  /** BEGIN and its statement timeout, until they go out in front of the branch's first statement. */
  #leading: (() => string[]) | undefined;
  /** For the branch that holds the decision: the statements that write its row and commit. */
  #decisionRow: readonly string[] | undefined;

  private constructor(adapter: SqlDatabaseAdapter, gid: string, branch: string, deadline: number) {
    this.#adapter = adapter;
    this.adapterId = adapter.id;
    this.branch = branch;
    this.#gid = gid;
    this.context = sqlBranchContext(adapter.id, {
      query: async (sql, params) => (await this.#statement(sql, params, 'query')).rows,
      execute: async (sql, params) => (await this.#statement(sql, params, 'execute')).rowCount,
      script: async (sql) => (await this.#started()).script(sql),
    }, this.#state, deadline);
  }

  /** Takes a session; the transaction opens (level, statement timeout of what is left until `deadline`) with the first statement. */
  static async begin(adapter: SqlDatabaseAdapter, gid: string, branch: string, options: { isolationLevel?: IsolationLevel; deadline: number; decisionRow?: readonly string[] }): Promise<PostgresBranch> {
    const b = new PostgresBranch(adapter, gid, branch, options.deadline);
    b.#decisionRow = options.decisionRow;
    let ready!: (session: DedicatedSession) => void;
    const gotSession = new Promise<DedicatedSession>((resolve) => (ready = resolve));
    const hold = new Promise<void>((resolve) => (b.#release = resolve));
    const lifetime = adapter.withSession(async (session) => {
      ready(session);
      await hold;
    });
    lifetime.catch(() => undefined);
    b.#lifetime = lifetime;
    b.#session = await Promise.race([gotSession, lifetime.then(() => Promise.reject(new Error('internal: session ended before use')))]);
    b.#leading = () => [postgresBegin(options.isolationLevel, false)[0]!, `SET LOCAL statement_timeout = ${Math.ceil(Math.max(1, options.deadline - Date.now()))}`];
    // Without pipelining, BEGIN goes now, not awaited: the coordinator takes the next participant's session while it
    // is on the wire, and every statement of the branch waits for it.
    if (!b.#session.runAfter) b.#sendLeading();
    return b;
  }

  /**
   * A statement of the branch. The first one carries BEGIN in the same round trip (PostgreSQL skips it if BEGIN
   * failed, so it never runs in autocommit); the others wait until that one is answered.
   */
  async #statement(sql: string, params: readonly unknown[] | undefined, kind: 'query' | 'execute'): Promise<{ rows: Row[]; rowCount: number }> {
    const session = this.#live();
    const leading = this.#leading;
    if (leading && session.runAfter) {
      this.#leading = undefined;
      const result = session.runAfter(leading(), sql, params);
      this.#begun = result.then(() => undefined);
      this.#begun.catch(() => undefined);
      return result;
    }
    await this.#begun;
    if (kind === 'execute') return { rows: [], rowCount: await this.#live().execute(sql, params) };
    const rows = await this.#live().query(sql, params);
    return { rows, rowCount: rows.length };
  }

  /** Sends BEGIN on its own, for what cannot carry it (a script, or no pipelining). */
  #sendLeading(): void {
    const leading = this.#leading;
    if (!leading) return;
    this.#leading = undefined;
    this.#begun = this.#live().script(leading().join('; '));
    this.#begun.catch(() => undefined);
  }

  async prepare(): Promise<void> {
    if (this.#state.aborted) {
      await this.rollback();
      throw new TransactionError(this.adapterId, `branch ${this.branch}: a statement failed and was not rolled back to a savepoint, so the branch cannot be prepared; every participant rolls back`);
    }
    try {
      // A branch that ran no statement sends BEGIN with its PREPARE, in one round trip.
      await this.#statement(`PREPARE TRANSACTION ${gidLiteral(this.#gid)}`, undefined, 'execute');
    } catch (error) {
      await this.#end(true);
      if (error instanceof QueryError && error.sqlState === '55000' && /prepared transactions are disabled/i.test(error.message)) {
        throw new CapabilityError(this.adapterId, 'PREPARE TRANSACTION', 'max_prepared_transactions is 0 on this server', 'Set max_prepared_transactions (e.g. to max_connections) in postgresql.conf and restart PostgreSQL');
      }
      throw error;
    }
    this.#prepared = true;
    this.#state.closed = true;
  }

  /**
   * The decision: the decision row's INSERT and COMMIT (with BEGIN in front when the branch ran nothing) in one
   * simple-protocol round trip; PostgreSQL skips what follows a failed statement, so COMMIT never runs after a failed
   * INSERT. A server error means not committed; a lost connection leaves the outcome to the decision row.
   */
  async commitWithDecision(): Promise<void> {
    if (!this.#decisionRow) throw new TransactionError(this.adapterId, `internal: branch ${this.branch} does not hold the decision`);
    if (this.#state.aborted) {
      await this.rollback();
      throw new TransactionError(this.adapterId, `branch ${this.branch}: a statement failed and was not rolled back to a savepoint, so the branch cannot commit; every participant rolls back`);
    }
    const session = this.#live();
    const leading = this.#leading;
    this.#leading = undefined;
    this.#state.closed = true;
    try {
      await this.#begun;
      await session.script([...(leading ? leading() : []), ...this.#decisionRow].join('; '));
    } catch (error) {
      await this.#end(true);
      throw error;
    }
    await this.#end(false);
  }

  /**
   * COMMIT PREPARED on the branch's own session: the prepared transaction no longer belongs to it, but keeping it
   * means phase 2 never waits for a free pooled connection, which under load could be held by transactions waiting
   * for this one's locks.
   */
  async commit(): Promise<void> {
    if (!this.#prepared) throw new TransactionError(this.adapterId, `branch ${this.branch} is not prepared`);
    await this.#finishPrepared('COMMIT');
  }

  async rollback(): Promise<void> {
    if (!this.#prepared) {
      await this.#end(true);
      return;
    }
    try {
      await this.#finishPrepared('ROLLBACK');
    } catch (error) {
      if (!(error instanceof QueryError && error.sqlState === '42704')) throw error;
    }
  }

  async release(): Promise<void> {
    await this.#end(false);
  }

  async #finishPrepared(verb: 'COMMIT' | 'ROLLBACK'): Promise<void> {
    const statement = `${verb} PREPARED ${gidLiteral(this.#gid)}`;
    const session = this.#session;
    try {
      if (session) await session.execute(statement);
      else await this.#adapter.execute(statement);
    } finally {
      await this.#end(false);
    }
  }

  /** Gives the session back: with ROLLBACK first when the transaction may still be open on it. */
  async #end(rollback: boolean): Promise<void> {
    const session = this.#session;
    this.#session = undefined;
    this.#state.closed = true;
    // BEGIN never sent: there is no transaction to roll back.
    const begun = this.#leading === undefined;
    this.#leading = undefined;
    await this.#begun.catch(() => undefined);
    if (session && rollback && begun) {
      // On a lost connection this fails and withSession marks the session broken, so the pool drops it.
      await session.query('ROLLBACK').catch(() => undefined);
    }
    this.#release?.();
    this.#release = undefined;
    await this.#lifetime?.catch(() => undefined);
  }

  async #started(): Promise<DedicatedSession> {
    this.#sendLeading();
    await this.#begun;
    return this.#live();
  }

  #live(): DedicatedSession {
    if (!this.#session) throw new TransactionError(this.adapterId, `branch ${this.branch} has no session (already prepared or rolled back)`);
    return this.#session;
  }
}
