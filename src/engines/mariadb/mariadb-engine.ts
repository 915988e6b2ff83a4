import type { EngineDefinition } from '../engine-definition.js';
import { mariadbConfig } from './mariadb-config.js';
import { mariadbLifecycle } from './lifecycle/mariadb-lifecycle.js';
import { mariadbMigrations } from './mariadb-migrations.js';
import { mariadbTransactions } from './mariadb-transactions.js';

/** MariaDB on the `mariadb` driver (XA for two-phase commit). */
export const mariadbEngine: EngineDefinition = {
  type: 'mariadb',
  aliases: [],
  urlSchemes: ['mariadb:'],
  defaultPort: 3306,
  defaultDatabase: 'test',
  sql: true,
  networked: true,
  optionKeys: mariadbConfig.optionKeys,
  config: mariadbConfig,
  create: async (config, deps) => {
    const { MariadbAdapter } = await import('./mariadb-adapter.js');
    return new MariadbAdapter(config, deps);
  },
  parts: {
    migrations: mariadbMigrations,
    transactions: mariadbTransactions,
    lifecycle: mariadbLifecycle,
    backup: async () => (await import('./backup/mariadb-backup-driver.js')).mariadbBackupDriver,
  },
};

/** MySQL through the same driver and adapter: the protocol and the XA statements are the same. */
export const mysqlEngine: EngineDefinition = { ...mariadbEngine, type: 'mysql', urlSchemes: ['mysql:'] };
