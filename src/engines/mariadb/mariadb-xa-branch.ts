import type { Connection } from 'mariadb';
import type { Row } from '../../adapters/database-adapter.js';
import { ConnectionError, QueryError, TransactionError, UsageError } from '../../errors/index.js';
import type { MariadbXaHost } from './mariadb-xa-host.js';
import { xidKey, xidSql, type Xid } from './mariadb-xid.js';
import { prepareMariadbStatement } from './prepare-mariadb-statement.js';

/**
 * - `active`: XA START ran, statements may run; `idle`: XA END ran;
 * - `prepared`: XA PREPARE ran; the branch is durable and still attached to this branch's session;
 * - `detached`: prepared, and its session was disconnected: finish it with MariadbXa.commit/rollback(xid) from any session;
 * - `committed`, `rolled back`: finished; `failed`: the session broke and the outcome is for recovery to find out.
 */
export type XaBranchState = 'active' | 'idle' | 'prepared' | 'detached' | 'committed' | 'rolled back' | 'failed';

// XA_RBROLLBACK, XA_RBTIMEOUT, XA_RBDEADLOCK: the server already rolled the branch back.
const ROLLED_BACK_ERRNOS = new Set([1402, 1613, 1614]);

/**
 * One XA branch on a dedicated session, from XA START to its end. Statements run through `query`/`execute` on the
 * branch's session (not through the adapter's pool). A failed statement marks the branch: it can then only be rolled
 * back, as a failed statement in `transaction()` prevents the commit.
 *
 * The session is returned to the pool when the branch commits or rolls back, and disconnected by `detach()`. Until
 * then it is held: a branch that is never finished keeps one pooled connection.
 */
export class XaBranch {
  readonly xid: Xid;
  readonly #host: MariadbXaHost;
  #session: Connection | undefined;
  #state: XaBranchState = 'active';
  #aborted = false;

  constructor(host: MariadbXaHost, xid: Xid, session: Connection) {
    this.#host = host;
    this.xid = xid;
    this.#session = session;
  }

  get state(): XaBranchState {
    return this.#state;
  }

  async query<T extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<T[]> {
    return (await this.#statement(sql, params)).rows as T[];
  }

  async execute(sql: string, params?: readonly unknown[]): Promise<number> {
    return (await this.#statement(sql, params)).rowCount;
  }

  /** XA END: no more statements in this branch. prepare() and commit({onePhase}) call it when needed. */
  async end(): Promise<void> {
    this.#expect(['active'], 'end');
    await this.#control(`XA END ${xidSql(this.xid)}`);
    this.#state = 'idle';
  }

  /**
   * XA PREPARE: after it the branch's changes are durable and survive the session, a server restart and a failover,
   * until XA COMMIT or XA ROLLBACK. A server that refuses to prepare has rolled the branch back (state `rolled back`);
   * a connection lost during PREPARE leaves the outcome unknown (state `failed`, the error says so).
   */
  async prepare(): Promise<void> {
    this.#expect(['active', 'idle'], 'prepare');
    if (this.#aborted) {
      throw new TransactionError(this.#host.adapterId, `XA branch ${xidKey(this.xid)}: a statement failed in this branch, so it cannot be prepared; call rollback()`);
    }
    const session = this.#sessionOrThrow();
    // XA END and XA PREPARE go out together (the driver pipelines them): one round trip instead of two. A failed
    // XA END makes the XA PREPARE behind it fail too (the branch is not idle), so nothing is prepared by mistake.
    const ended = this.#state === 'active' ? this.#host.run(session, `XA END ${xidSql(this.xid)}`, undefined) : undefined;
    const prepared = this.#host.run(session, `XA PREPARE ${xidSql(this.xid)}`, undefined, 'XA PREPARE');
    const [end, prepare] = await Promise.allSettled([ended, prepared]);
    if (end.status === 'rejected') {
      await this.#afterFailure(end.reason);
      throw end.reason;
    }
    this.#state = 'idle';
    if (prepare.status === 'rejected') {
      await this.#afterFailure(prepare.reason);
      throw prepare.reason;
    }
    this.#state = 'prepared';
  }

  /**
   * Commits the branch. A prepared branch commits on its own session (phase 2). An unprepared one commits only with
   * `{onePhase: true}` (XA COMMIT ... ONE PHASE), the optimisation for a transaction with a single participant.
   */
  async commit(options: { onePhase?: boolean } = {}): Promise<void> {
    const onePhase = options.onePhase ?? false;
    if (this.#state === 'prepared') {
      if (onePhase) throw new UsageError('options.onePhase', 'the branch is already prepared; commit it without onePhase');
      await this.#finish(`XA COMMIT ${xidSql(this.xid)}`, 'XA COMMIT', 'committed');
      return;
    }
    this.#expect(['active', 'idle'], 'commit');
    if (!onePhase) {
      throw new UsageError('options.onePhase', 'the branch is not prepared; call prepare() first, or commit({onePhase: true}) when it is the only participant');
    }
    if (this.#aborted) {
      throw new TransactionError(this.#host.adapterId, `XA branch ${xidKey(this.xid)}: a statement failed in this branch, so it cannot commit; call rollback()`);
    }
    if (this.#state === 'active') await this.end();
    await this.#finish(`XA COMMIT ${xidSql(this.xid)} ONE PHASE`, 'XA COMMIT ONE PHASE', 'committed');
  }

  /** Rolls the branch back, from any state before it finished (ending it first when it is still active). */
  async rollback(): Promise<void> {
    this.#expect(['active', 'idle', 'prepared'], 'rollback');
    if (this.#state === 'active') {
      try {
        await this.#control(`XA END ${xidSql(this.xid)}`);
      } catch (error) {
        // A deadlock or timeout inside the branch already rolled it back; XA END then reports XA_RB* and XA ROLLBACK
        // below still clears the branch from the session.
        if (!isRolledBackError(error)) {
          await this.#afterFailure(error);
          throw error;
        }
      }
      this.#state = 'idle';
    }
    await this.#finish(`XA ROLLBACK ${xidSql(this.xid)}`, undefined, 'rolled back');
  }

  /**
   * Disconnects the session of a prepared branch and waits until the server has let go of it. The branch stays
   * prepared on the server (MariaDB 10.5+, MySQL 5.7.7+) and becomes visible to other sessions: finish it with
   * MariadbXa.commit(xid) or rollback(xid). While the preparing session lives, other sessions get XAER_NOTA for it.
   */
  async detach(): Promise<void> {
    this.#expect(['prepared'], 'detach');
    const session = this.#session!;
    this.#session = undefined;
    this.#state = 'detached';
    const threadId = session.threadId;
    this.#host.release(session, true);
    // The server ends the session's thread after the socket closes, asynchronously: until the thread is gone the
    // branch still belongs to it, and an XA COMMIT from elsewhere would find no such xid.
    if (threadId !== null) await this.#host.waitForSessionEnd(threadId);
  }

  async #statement(sql: string, params: readonly unknown[] | undefined) {
    if (typeof sql !== 'string' || sql.trim() === '') throw new UsageError('sql', 'expected a non-empty SQL string');
    if (params !== undefined && !Array.isArray(params)) throw new UsageError('params', `expected an array of values, got ${typeof params}`);
    this.#expect(['active'], 'run a statement');
    const prepared = prepareMariadbStatement(sql, params);
    try {
      return await this.#host.run(this.#sessionOrThrow(), prepared.text, prepared.params);
    } catch (error) {
      this.#aborted = true;
      if (error instanceof ConnectionError) await this.#afterFailure(error);
      throw error;
    }
  }

  async #control(text: string): Promise<void> {
    try {
      await this.#host.run(this.#sessionOrThrow(), text, undefined);
    } catch (error) {
      if (error instanceof ConnectionError) await this.#afterFailure(error);
      throw error;
    }
  }

  async #finish(text: string, commitLabel: string | undefined, next: XaBranchState): Promise<void> {
    try {
      await this.#host.run(this.#sessionOrThrow(), text, undefined, commitLabel);
    } catch (error) {
      await this.#afterFailure(error);
      throw error;
    }
    this.#state = next;
    const session = this.#session;
    this.#session = undefined;
    if (session) this.#host.release(session, false);
  }

  /**
   * After a failed XA statement: when the server says it rolled the branch back, the session is clean again; anything
   * else (a lost connection, an unexpected state) disconnects it, which rolls back an unprepared branch and leaves a
   * prepared one to recovery.
   */
  async #afterFailure(error: unknown): Promise<void> {
    const session = this.#session;
    this.#session = undefined;
    if (!session) return;
    if (isRolledBackError(error) && this.#state !== 'prepared') {
      this.#state = 'rolled back';
      // XA ROLLBACK clears the rolled-back branch from the session so that it can go back to the pool.
      try {
        await this.#host.run(session, `XA ROLLBACK ${xidSql(this.xid)}`, undefined);
        this.#host.release(session, false);
      } catch {
        this.#host.release(session, true);
      }
      return;
    }
    this.#state = 'failed';
    this.#host.release(session, true);
  }

  #expect(states: readonly XaBranchState[], action: string): void {
    if (!states.includes(this.#state)) {
      throw new TransactionError(this.#host.adapterId, `XA branch ${xidKey(this.xid)} is ${this.#state}; cannot ${action} (allowed when ${states.join(' or ')})`);
    }
  }

  #sessionOrThrow(): Connection {
    if (!this.#session) throw new TransactionError(this.#host.adapterId, `XA branch ${xidKey(this.xid)} has no session (${this.#state})`);
    return this.#session;
  }
}

function isRolledBackError(error: unknown): boolean {
  if (!(error instanceof QueryError)) return false;
  const cause = error.cause as { errno?: number } | undefined;
  return cause?.errno !== undefined && ROLLED_BACK_ERRNOS.has(cause.errno);
}
