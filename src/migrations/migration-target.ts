import type { DatabaseAdapter } from '../adapters/database-adapter.js';
import { enginePart } from '../engines/engine-registry.js';
import type { ExclusiveLock } from '../locks/exclusive-lock.js';
import type { MigrationHistory } from './migration-history.js';
import type { MigrationLockSettings } from './migration-part.js';
import type { MigrationFile } from './migration-types.js';

/** One database being migrated: its files, where its history lives, and how runners exclude each other. */
export interface MigrationTarget {
  readonly database: string;
  readonly adapter: DatabaseAdapter;
  readonly files: MigrationFile[];
  readonly history: MigrationHistory;
  /** A fresh lock object per run (locks hold per-run state). */
  lock(): ExclusiveLock;
  /** True when the engine runs SQL files. */
  readonly sql: boolean;
  /** SQL run first inside each migration's transaction, when the engine wants one. */
  readonly transactionPreamble: string | undefined;
}

export type TargetOptions = MigrationLockSettings;

/** The target of one database, from its engine's migration part (a CapabilityError when the engine has none). */
export function createMigrationTarget(adapter: DatabaseAdapter, files: MigrationFile[], options: TargetOptions): MigrationTarget {
  const part = enginePart(adapter, 'migrations', 'migrations');
  return {
    database: adapter.id,
    adapter,
    files,
    history: part.history(adapter, options.tableName),
    lock: () => part.lock(adapter, options),
    sql: part.sql,
    transactionPreamble: part.transactionPreamble,
  };
}
