import { LeaseLock } from '../../locks/lease-lock.js';
import type { EngineDefinition } from '../engine-definition.js';
import { redisConfig } from './redis-config.js';
import { redisLifecycle } from './lifecycle/redis-lifecycle.js';
import type { RedisAdapter } from './redis-adapter.js';
import { RedisCacheStore } from './redis-cache-store.js';
import { RedisLastResource } from './redis-last-resource.js';
import { RedisLeaseStore } from './redis-lease-store.js';
import { RedisMigrationHistory } from './redis-migration-history.js';
import { redisReplicationDriver } from './replication/redis-replication-driver.js';

/** Redis on ioredis, standalone or through Sentinel. */
export const redisEngine: EngineDefinition = {
  type: 'redis',
  aliases: [],
  urlSchemes: ['redis:', 'rediss:'],
  defaultPort: 6379,
  defaultDatabase: '0',
  sql: false,
  networked: true,
  optionKeys: redisConfig.optionKeys,
  config: redisConfig,
  create: async (config, deps) => {
    const { RedisAdapter } = await import('./redis-adapter.js');
    return new RedisAdapter(config, deps);
  },
  parts: {
    migrations: {
      sql: false,
      history: (adapter, tableName) => new RedisMigrationHistory(adapter, `${tableName}:history`),
      lock: (adapter, { tableName, leaseTtl }) => new LeaseLock(new RedisLeaseStore(adapter, `${tableName}:lock`), { resource: adapter.id, holder: 'migration runner' }, leaseTtl),
    },
    // MULTI/EXEC commits atomically but cannot prepare: at most one last resource, committed after every prepare.
    transactions: { lastResource: (adapter) => new RedisLastResource(adapter as RedisAdapter) },
    lifecycle: redisLifecycle,
    // RDB snapshots over the replication protocol, the captured command stream for PITR (docs/redis-backups.md).
    backup: async () => (await import('./backup/redis-backup-driver.js')).redisBackupDriver,
    // Sentinel is the failover authority; the driver configures steps, watches and routing checks (docs/redis-replication.md).
    replication: redisReplicationDriver,
    // Lua scripts for atomic read/compare-and-write/invalidate, pub/sub for the bus (docs/cache.md).
    cache: { store: (adapter, s) => new RedisCacheStore(adapter as RedisAdapter, s.prefix, s.tombstoneMs, s.origin) },
  },
};
