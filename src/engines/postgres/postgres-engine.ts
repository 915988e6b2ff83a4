import type { EngineDefinition } from '../engine-definition.js';
import { postgresLifecycle } from './lifecycle/postgres-lifecycle.js';
import { postgresConfig } from './postgres-config.js';
import { postgresMigrations } from './postgres-migrations.js';
import { postgresTransactions } from './postgres-transactions.js';
import { postgresReplicationDriver } from './replication/postgres-replication-driver.js';
import { postgresStatementStats } from './postgres-statement-stats.js';

/** PostgreSQL on `pg`: the engine datakeep does most for (physical backups, PITR, 2PC). */
export const postgresEngine: EngineDefinition = {
  type: 'postgresql',
  aliases: ['postgres', 'pg'],
  urlSchemes: ['postgres:', 'postgresql:'],
  defaultPort: 5432,
  defaultDatabase: 'postgres',
  sql: true,
  networked: true,
  optionKeys: postgresConfig.optionKeys,
  config: postgresConfig,
  create: async (config, deps) => {
    const { PostgresAdapter } = await import('./postgres-adapter.js');
    return new PostgresAdapter(config, deps);
  },
  parts: {
    migrations: postgresMigrations,
    transactions: postgresTransactions,
    lifecycle: postgresLifecycle,
    backup: async () => (await import('./backup/postgres-backup-driver.js')).postgresBackupDriver,
    replication: postgresReplicationDriver,
    statements: postgresStatementStats,
  },
};
