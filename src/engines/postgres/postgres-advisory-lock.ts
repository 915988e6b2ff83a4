import { createHash } from 'node:crypto';
import type { DedicatedSession, SqlDatabaseAdapter } from '../../adapters/database-adapter.js';
import { LockError } from '../../errors/index.js';
import { sleep } from '../../resilience/backoff.js';
import { newLockOwner } from '../../locks/lock-owner.js';
import { SessionHold } from '../../locks/session-hold.js';
import type { ExclusiveLock, LockHolder, LockPurpose } from '../../locks/exclusive-lock.js';

/** A stable 64-bit advisory lock key for a name, split as PostgreSQL stores it in pg_locks (classid, objid). */
export function advisoryKey(name: string): { key: bigint; classid: number; objid: number } {
  const key = createHash('sha256').update(name).digest().readBigInt64BE(0);
  const unsigned = BigInt.asUintN(64, key);
  return { key, classid: Number(unsigned >> 32n), objid: Number(unsigned & 0xffffffffn) };
}

/**
 * A session-level advisory lock on a dedicated connection, held while migrations run on other connections. If the
 * runner dies, PostgreSQL ends the session and the lock with it. The session's application_name says who holds the
 * lock and since when, so a waiting runner can name the holder.
 */
export class PostgresAdvisoryLock implements ExclusiveLock {
  readonly kind = 'advisory lock';
  readonly leased = false;
  readonly #key: ReturnType<typeof advisoryKey>;
  #hold: SessionHold | undefined;

  constructor(
    private readonly adapter: SqlDatabaseAdapter,
    private readonly purpose: LockPurpose,
    lockName: string,
  ) {
    this.#key = advisoryKey(lockName);
  }

  async acquire(timeoutMs: number): Promise<void> {
    const hold = new SessionHold();
    await hold.start(
      this.adapter,
      async (session) => {
        await this.waitFor(session, timeoutMs);
        const { token } = newLockOwner();
        await session.query("SELECT set_config('application_name', ?, false)", [`datakeep-migrate ${token}`.slice(0, 63)]);
      },
      async (session) => {
        await session.query('SELECT pg_advisory_unlock(?::bigint)', [this.#key.key.toString()]);
      },
      5000,
    );
    this.#hold = hold;
  }

  private async waitFor(session: DedicatedSession, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let delay = 50;
    for (;;) {
      const rows = await session.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(?::bigint) AS ok', [this.#key.key.toString()]);
      if (rows[0]?.ok) return;
      if (Date.now() >= deadline) {
        const holder = await this.holder();
        throw new LockError('timeout', this.purpose.resource, `another ${this.purpose.holder} holds the advisory lock and did not release it within ${timeoutMs} ms: ${holder ? `${holder.description}${holder.since ? ` since ${holder.since.toISOString()}` : ''}` : 'holder unknown'}. Wait for it to finish; if it hangs, end its session (pg_terminate_backend) and the lock goes with it`);
      }
      await sleep(Math.min(delay, Math.max(0, deadline - Date.now())));
      delay = Math.min(delay * 2, 500);
    }
  }

  assertHeld(): void {
    if (!this.#hold) throw new LockError('lost', this.purpose.resource, 'the lock is not held');
    if (this.#hold.lost) {
      throw new LockError('lost', this.purpose.resource, 'the session holding the lock failed, so the lock is gone; stopping before the next step', { cause: this.#hold.lost });
    }
  }

  async release(): Promise<void> {
    const hold = this.#hold;
    this.#hold = undefined;
    await hold?.release();
  }

  async holder(): Promise<LockHolder | undefined> {
    const rows = await this.adapter.query<{ pid: number; application_name: string; backend_start: Date; client_addr: string | null }>(
      `SELECT a.pid, a.application_name, a.backend_start, host(a.client_addr) AS client_addr
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted AND l.classid = ?::bigint::oid AND l.objid = ?::bigint::oid AND l.objsubid = 1`,
      [this.#key.classid, this.#key.objid],
    );
    const row = rows[0];
    if (!row) return undefined;
    const since = /(\d{4}-\d\d-\d\dT[\d:.]+Z)/.exec(row.application_name)?.[1];
    return {
      description: `PostgreSQL backend pid ${row.pid} (application_name "${row.application_name}"${row.client_addr ? `, from ${row.client_addr}` : ''})`,
      since: since ? new Date(since) : row.backend_start,
    };
  }

  /** A session lock cannot be left behind by a dead runner; ending a live holder's session is the operator's call. */
  async forceRelease(): Promise<LockHolder | undefined> {
    return this.holder();
  }
}
