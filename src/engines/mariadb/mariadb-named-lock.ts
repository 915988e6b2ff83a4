import type { SqlDatabaseAdapter } from '../../adapters/database-adapter.js';
import { LockError } from '../../errors/index.js';
import type { ExclusiveLock, LockHolder, LockPurpose } from '../../locks/exclusive-lock.js';
import { SessionHold } from '../../locks/session-hold.js';

/** MariaDB/MySQL `GET_LOCK` on a dedicated session: released by the server when the session ends. */
export class MariadbNamedLock implements ExclusiveLock {
  readonly kind = 'named lock (GET_LOCK)';
  readonly leased = false;
  #hold: SessionHold | undefined;

  constructor(
    private readonly adapter: SqlDatabaseAdapter,
    private readonly purpose: LockPurpose,
    private readonly name: string,
  ) {}

  async acquire(timeoutMs: number): Promise<void> {
    const hold = new SessionHold();
    await hold.start(
      this.adapter,
      async (session) => {
        const rows = await session.query<{ ok: number | null }>('SELECT GET_LOCK(?, ?) AS ok', [this.name, Math.max(0, Math.ceil(timeoutMs / 1000))]);
        if (Number(rows[0]?.ok) !== 1) {
          const holder = await this.holder();
          throw new LockError('timeout', this.purpose.resource, `another ${this.purpose.holder} holds the lock "${this.name}" and did not release it within ${timeoutMs} ms: ${holder?.description ?? 'holder unknown'}. Wait for it; if it hangs, KILL its connection and the lock goes with it`);
        }
      },
      async (session) => {
        await session.query('SELECT RELEASE_LOCK(?)', [this.name]);
      },
      // Without a statement now and then, a session ended by KILL or the network goes unnoticed, and the runner would
      // go on migrating while another one holds the lock.
      5000,
    );
    this.#hold = hold;
  }

  assertHeld(): void {
    if (!this.#hold) throw new LockError('lost', this.purpose.resource, 'the lock is not held');
    if (this.#hold.lost) throw new LockError('lost', this.purpose.resource, 'the session holding the lock failed; stopping', { cause: this.#hold.lost });
  }

  async release(): Promise<void> {
    const hold = this.#hold;
    this.#hold = undefined;
    await hold?.release();
  }

  async holder(): Promise<LockHolder | undefined> {
    const rows = await this.adapter.query<{ id: number | null }>('SELECT IS_USED_LOCK(?) AS id', [this.name]);
    const id = rows[0]?.id;
    if (id === null || id === undefined) return undefined;
    const info = await this.adapter.query<{ user: string; host: string; time: number }>('SELECT USER AS user, HOST AS host, TIME AS time FROM information_schema.PROCESSLIST WHERE ID = ?', [id]);
    const row = info[0];
    return {
      description: `connection ${id}${row ? ` (${row.user}@${row.host})` : ''}`,
      since: row ? new Date(Date.now() - Number(row.time) * 1000) : undefined,
    };
  }

  async forceRelease(): Promise<LockHolder | undefined> {
    return this.holder();
  }
}
