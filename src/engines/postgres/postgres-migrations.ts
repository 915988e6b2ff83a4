import { LeaseLock } from '../../locks/lease-lock.js';
import type { MigrationPart } from '../../migrations/migration-part.js';
import { asSqlAdapter } from '../sql/as-sql-adapter.js';
import { SqlMigrationHistory } from '../sql/sql-migration-history.js';
import { PostgresAdvisoryLock } from './postgres-advisory-lock.js';
import { PostgresLeaseStore } from './postgres-lease-store.js';

/**
 * PostgreSQL 14+ can notice, during a long statement, that its client is gone and abort. Without this, a runner
 * killed mid-migration leaves its statement running (and its locks held) until the statement ends on its own.
 * Older servers and platforms without the check ignore it (the exception handler keeps the transaction usable).
 */
const STOP_WHEN_CLIENT_DIES = `DO $dk$ BEGIN PERFORM set_config('client_connection_check_interval', '1000', true); EXCEPTION WHEN OTHERS THEN NULL; END $dk$`;

/**
 * Migrations on PostgreSQL: history in a table; runners exclude each other with a session advisory lock, or with a
 * lease row in lock-table mode (behind a pooler in transaction mode, where a session lock would be shared).
 */
export const postgresMigrations: MigrationPart = {
  sql: true,
  history: (adapter, tableName) => new SqlMigrationHistory(asSqlAdapter(adapter), tableName, 'postgres'),
  lock: (adapter, { tableName, lockMode, leaseTtl }) => {
    const sql = asSqlAdapter(adapter);
    const purpose = { resource: adapter.id, holder: 'migration runner' };
    if (lockMode === 'lock-table') return new LeaseLock(new PostgresLeaseStore(sql, `${tableName}_lock`, 'migrations'), purpose, leaseTtl);
    return new PostgresAdvisoryLock(sql, purpose, `datakeep:migrations:${tableName}`);
  },
  transactionPreamble: STOP_WHEN_CLIENT_DIES,
};
