import { isSqlAdapter, type DatabaseAdapter } from '../adapters/database-adapter.js';
import { CapabilityError } from '../errors/index.js';
import type { MigrationHistory } from './history/migration-history.js';
import { MongodbMigrationHistory } from './history/mongodb-migration-history.js';
import { MongodbLeaseStore } from './locks/mongodb-lease-store.js';
import { RedisMigrationHistory } from './history/redis-migration-history.js';
import { SqlMigrationHistory } from './history/sql-migration-history.js';
import { InProcessLock } from './locks/in-process-lock.js';
import { LeaseLock } from './locks/lease-lock.js';
import { MariadbNamedLock } from './locks/mariadb-named-lock.js';
import type { MigrationLock } from './locks/migration-lock.js';
import { PostgresAdvisoryLock } from './locks/postgres-advisory-lock.js';
import { RedisLeaseStore } from './locks/redis-lease-store.js';
import { SqlLeaseStore } from './locks/sql-lease-store.js';
import type { MigrationFile, MigrationsConfig } from './migration-types.js';

/** One database being migrated: its files, where its history lives, and how runners exclude each other. */
export interface MigrationTarget {
  readonly database: string;
  readonly adapter: DatabaseAdapter;
  readonly files: MigrationFile[];
  readonly history: MigrationHistory;
  /** A fresh lock object per run (locks hold per-run state). */
  lock(): MigrationLock;
  /** True when the engine runs SQL files. */
  readonly sql: boolean;
}

export interface TargetOptions {
  readonly tableName: string;
  readonly lockMode: NonNullable<MigrationsConfig['lockMode']>;
  readonly leaseTtl: number;
}

export function createMigrationTarget(adapter: DatabaseAdapter, files: MigrationFile[], options: TargetOptions): MigrationTarget {
  const { tableName, lockMode, leaseTtl } = options;
  const database = adapter.id;
  switch (adapter.type) {
    case 'postgresql':
    case 'pglite': {
      if (!isSqlAdapter(adapter)) break;
      const history = new SqlMigrationHistory(adapter, tableName, 'postgres');
      const lock = (): MigrationLock => {
        if (adapter.type === 'pglite') return new InProcessLock(`${database}:${tableName}`);
        if (lockMode === 'lock-table') return new LeaseLock(new SqlLeaseStore(adapter, `${tableName}_lock`, 'migrations'), database, leaseTtl);
        return new PostgresAdvisoryLock(adapter, database, `datakeep:migrations:${tableName}`);
      };
      return { database, adapter, files, history, lock, sql: true };
    }
    case 'mariadb':
    case 'mysql': {
      if (!isSqlAdapter(adapter)) break;
      const history = new SqlMigrationHistory(adapter, tableName, 'mysql');
      return { database, adapter, files, history, lock: () => new MariadbNamedLock(adapter, database, `datakeep:migrations:${tableName}`.slice(0, 64)), sql: true };
    }
    case 'mongodb': {
      const history = new MongodbMigrationHistory(adapter, tableName);
      return { database, adapter, files, history, lock: () => new LeaseLock(new MongodbLeaseStore(adapter, `${tableName}_lock`, 'migrations'), database, leaseTtl), sql: false };
    }
    case 'redis': {
      const history = new RedisMigrationHistory(adapter, `${tableName}:history`);
      return { database, adapter, files, history, lock: () => new LeaseLock(new RedisLeaseStore(adapter, `${tableName}:lock`), database, leaseTtl), sql: false };
    }
  }
  throw new CapabilityError(database, 'migrations', `no migration history is implemented for ${adapter.type}`, 'Use a postgresql, pglite, mariadb, mysql, redis or mongodb database');
}
