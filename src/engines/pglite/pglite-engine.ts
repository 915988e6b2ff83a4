import { InProcessLock } from '../../locks/in-process-lock.js';
import type { EngineDefinition } from '../engine-definition.js';
import { pgliteConfig } from './pglite-config.js';
import { asSqlAdapter } from '../sql/as-sql-adapter.js';
import { SqlMigrationHistory } from '../sql/sql-migration-history.js';
import { postgresLifecycle } from '../postgres/lifecycle/postgres-lifecycle.js';

/** The embedded PostgreSQL (PGlite): the default when nothing is configured, and the default state store. */
export const pgliteEngine: EngineDefinition = {
  type: 'pglite',
  aliases: ['embedded'],
  urlSchemes: ['pglite:'],
  defaultPort: 0,
  defaultDatabase: 'datakeep',
  sql: true,
  networked: false,
  optionKeys: pgliteConfig.optionKeys,
  config: pgliteConfig,
  create: async (config, deps) => {
    const { PgliteAdapter } = await import('./pglite-adapter.js');
    return new PgliteAdapter(config, deps);
  },
  parts: {
    migrations: {
      sql: true,
      history: (adapter, tableName) => new SqlMigrationHistory(asSqlAdapter(adapter), tableName, 'postgres'),
      // Its directory belongs to one process (ProcessDirLock), so runners can only race inside this process.
      lock: (adapter, { tableName }) => new InProcessLock(`${adapter.id}:${tableName}`, { resource: adapter.id, holder: 'migration runner' }),
    },
    // Logical backups (PGlite has no WAL archive); the same code as PostgreSQL's logical backups.
    backup: async () => (await import('./pglite-backup-driver.js')).pgliteBackupDriver,
    // The embedded database is PostgreSQL: the same lifecycle statements work on it.
    lifecycle: postgresLifecycle,
    transactions: {
      deadline: { begin: (msLeft) => `SET LOCAL statement_timeout = ${Math.max(1, Math.ceil(msLeft))}` },
    },
  },
};
