import { LeaseLock } from '../../locks/lease-lock.js';
import type { EngineDefinition } from '../engine-definition.js';
import { mongodbConfig } from './mongodb-config.js';
import { mongodbLifecycle } from './lifecycle/mongodb-lifecycle.js';
import type { MongodbAdapter } from './mongodb-adapter.js';
import { MongodbLastResource } from './mongodb-last-resource.js';
import { MongodbLeaseStore } from './mongodb-lease-store.js';
import { MongodbMigrationHistory } from './mongodb-migration-history.js';
import { mongodbReplication } from './replication/mongodb-replication.js';

/** MongoDB on the official driver. */
export const mongodbEngine: EngineDefinition = {
  type: 'mongodb',
  aliases: ['mongo'],
  urlSchemes: ['mongodb:', 'mongodb+srv:'],
  defaultPort: 27017,
  defaultDatabase: 'test',
  sql: false,
  networked: true,
  optionKeys: mongodbConfig.optionKeys,
  config: mongodbConfig,
  create: async (config, deps) => {
    const { MongodbAdapter } = await import('./mongodb-adapter.js');
    return new MongodbAdapter(config, deps);
  },
  parts: {
    migrations: {
      sql: false,
      history: (adapter, tableName) => new MongodbMigrationHistory(adapter, tableName),
      lock: (adapter, { tableName, leaseTtl }) => new LeaseLock(new MongodbLeaseStore(adapter, `${tableName}_lock`, 'migrations'), { resource: adapter.id, holder: 'migration runner' }, leaseTtl),
    },
    transactions: {
      // A MongoDB transaction commits atomically but cannot prepare: it can only be the last resource.
      lastResource: (adapter) => new MongodbLastResource(adapter as MongodbAdapter),
      deadline: { adapterOptions: (timeoutMs) => ({ timeLimitMs: timeoutMs }) },
    },
    lifecycle: mongodbLifecycle,
    // Logical backups plus oplog slices, restored into a live server (backup/mongodb-backup-driver.ts).
    backup: async () => (await import('./backup/mongodb-backup-driver.js')).mongodbBackupDriver,
    // Replica-set elections are the authority; datakeep observes and asks (replication/mongodb-replication.ts).
    replication: mongodbReplication,
  },
};
