import { QueryError, UsageError } from '../../errors/index.js';
import { XaBranch } from './mariadb-xa-branch.js';
import type { MariadbXaHost } from './mariadb-xa-host.js';
import { assertValidXid, parseDatakeepXid, xidFromRecoverRow, xidSql, type DatakeepXidParts, type Xid } from './mariadb-xid.js';

/** One prepared branch found by `XA RECOVER`. */
export interface RecoveredXid {
  readonly xid: Xid;
  /** Its parts when a datakeep coordinator wrote it (any node); undefined for foreign xids. */
  readonly datakeep: DatakeepXidParts | undefined;
}

/**
 * The XA primitives a transaction coordinator drives on MariaDB/MySQL: `start` opens a branch on a dedicated session;
 * the branch ends, prepares, commits (two-phase, or one-phase) and rolls back; `commit(xid)`/`rollback(xid)` finish a
 * prepared branch from any session once it is detached (after its session ended or the coordinator restarted);
 * `recover` lists prepared branches.
 *
 * These are primitives: the coordinator log, the decision and the retries of phase 2 belong to the coordinator.
 */
export class MariadbXa {
  readonly #host: MariadbXaHost;

  constructor(host: MariadbXaHost) {
    this.#host = host;
  }

  /** XA START on a new dedicated session. The returned branch owns that session until it finishes or detaches. */
  async start(xid: Xid): Promise<XaBranch> {
    assertValidXid(xid);
    const session = await this.#host.acquire();
    try {
      await this.#host.run(session, `XA START ${xidSql(xid)}`, undefined);
    } catch (error) {
      this.#host.release(session, true);
      throw error;
    }
    return new XaBranch(this.#host, xid, session);
  }

  /**
   * XA COMMIT of a prepared, detached branch. Resolves true when it committed, false when the server does not know the
   * xid (XAER_NOTA): already committed or rolled back, never prepared, or still attached to a live session. A lost
   * connection is a ConnectionError with `outcomeUnknown`: call again, commit is idempotent through this `false`.
   */
  async commit(xid: Xid): Promise<boolean> {
    assertValidXid(xid);
    return this.#finish(`XA COMMIT ${xidSql(xid)}`, 'XA COMMIT');
  }

  /**
   * XA ROLLBACK of a prepared, detached branch; true when rolled back (also when the server answers that the branch was
   * already rolled back, XA_RB*), false when it does not know the xid.
   */
  async rollback(xid: Xid): Promise<boolean> {
    assertValidXid(xid);
    return this.#finish(`XA ROLLBACK ${xidSql(xid)}`, 'XA ROLLBACK');
  }

  /**
   * The prepared branches on the server (all of them: `XA RECOVER` is server-wide, not per database), or with
   * `ownedBy` only those a datakeep coordinator with that node id wrote. Branches still attached to a live session
   * are listed too, though only their own session can finish them.
   */
  async recover(options: { ownedBy?: string } = {}): Promise<RecoveredXid[]> {
    const { ownedBy } = options;
    if (ownedBy !== undefined && (typeof ownedBy !== 'string' || ownedBy === '')) {
      throw new UsageError('options.ownedBy', 'expected the coordinator node id, a non-empty string');
    }
    const session = await this.#host.acquire();
    let broken = false;
    let rows;
    try {
      rows = (await this.#host.run(session, 'XA RECOVER', undefined)).rows;
    } catch (error) {
      broken = true;
      throw error;
    } finally {
      this.#host.release(session, broken);
    }
    const all = rows.map((row) => {
      const xid = xidFromRecoverRow(row);
      return { xid, datakeep: parseDatakeepXid(xid) };
    });
    return ownedBy === undefined ? all : all.filter((r) => r.datakeep?.nodeId === ownedBy);
  }

  async #finish(text: string, label: string): Promise<boolean> {
    const session = await this.#host.acquire();
    let broken = false;
    try {
      await this.#host.run(session, text, undefined, label);
      return true;
    } catch (error) {
      if (error instanceof QueryError && error.sqlState === 'XAE04') return false;
      // XA_RB*: the server reports the branch as rolled back, which is what a rollback asked for (MariaDB answers so
      // for a prepared branch that changed nothing).
      if (label === 'XA ROLLBACK' && error instanceof QueryError && error.sqlState?.startsWith('XA1')) return true;
      broken = !(error instanceof QueryError);
      throw error;
    } finally {
      this.#host.release(session, broken);
    }
  }
}
