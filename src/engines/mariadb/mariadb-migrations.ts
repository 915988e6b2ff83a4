import type { MigrationPart } from '../../migrations/migration-part.js';
import { asSqlAdapter } from '../sql/as-sql-adapter.js';
import { SqlMigrationHistory } from '../sql/sql-migration-history.js';
import { MariadbNamedLock } from './mariadb-named-lock.js';

/** Migrations on MariaDB/MySQL: history in a table, runners excluded by GET_LOCK (a named lock of the session). */
export const mariadbMigrations: MigrationPart = {
  sql: true,
  history: (adapter, tableName) => new SqlMigrationHistory(asSqlAdapter(adapter), tableName, 'mysql'),
  // GET_LOCK names are limited to 64 characters.
  lock: (adapter, { tableName }) => new MariadbNamedLock(asSqlAdapter(adapter), { resource: adapter.id, holder: 'migration runner' }, `datakeep:migrations:${tableName}`.slice(0, 64)),
};
