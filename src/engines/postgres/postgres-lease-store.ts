import type { SqlDatabaseAdapter } from '../../adapters/database-adapter.js';
import { QueryError } from '../../errors/index.js';
import type { LeaseStore } from '../../locks/lease-lock.js';

/**
 * Lock-table mode for PostgreSQL behind a pooler in transaction mode, where session-level advisory locks would be
 * held by a server connection other callers share. One row per lock; each operation is one statement.
 */
export class PostgresLeaseStore implements LeaseStore {
  readonly kind = 'lock table';
  #ready = false;

  constructor(
    private readonly adapter: SqlDatabaseAdapter,
    private readonly table: string,
    private readonly name: string,
  ) {}

  private async ensure(): Promise<void> {
    if (this.#ready) return;
    try {
      await this.adapter.execute(`CREATE TABLE IF NOT EXISTS ${this.table} (name varchar(200) PRIMARY KEY, owner varchar(300) NOT NULL, acquired_at timestamptz NOT NULL, expires_at timestamptz NOT NULL)`);
    } catch (error) {
      // Two runners creating the table at once: PostgreSQL reports a unique violation on its catalog for the loser.
      if (!(error instanceof QueryError && (error.sqlState === '23505' || error.sqlState === '42P07'))) throw error;
    }
    this.#ready = true;
  }

  async tryAcquire(token: string, ttlMs: number): Promise<boolean> {
    await this.ensure();
    const rows = await this.adapter.query<{ owner: string }>(
      `INSERT INTO ${this.table} AS l (name, owner, acquired_at, expires_at) VALUES (?, ?, now(), now() + ? * interval '1 millisecond')
       ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner, acquired_at = EXCLUDED.acquired_at, expires_at = EXCLUDED.expires_at
       WHERE l.expires_at < now() RETURNING owner`,
      [this.name, token, ttlMs],
    );
    return rows[0]?.owner === token;
  }

  async renew(token: string, ttlMs: number): Promise<boolean> {
    return (await this.adapter.execute(`UPDATE ${this.table} SET expires_at = now() + ? * interval '1 millisecond' WHERE name = ? AND owner = ?`, [ttlMs, this.name, token])) === 1;
  }

  async release(token: string): Promise<void> {
    await this.adapter.execute(`DELETE FROM ${this.table} WHERE name = ? AND owner = ?`, [this.name, token]);
  }

  async current(): Promise<string | undefined> {
    await this.ensure();
    const rows = await this.adapter.query<{ owner: string }>(`SELECT owner FROM ${this.table} WHERE name = ? AND expires_at >= now()`, [this.name]);
    return rows[0]?.owner;
  }

  async forceDelete(): Promise<string | undefined> {
    await this.ensure();
    const rows = await this.adapter.query<{ owner: string }>(`DELETE FROM ${this.table} WHERE name = ? RETURNING owner`, [this.name]);
    return rows[0]?.owner;
  }
}
