import type { DatabaseAdapter } from '../adapters/database-adapter.js';
import type { ExclusiveLock } from '../locks/exclusive-lock.js';
import type { MigrationHistory } from './migration-history.js';
import type { MigrationsConfig } from './migration-types.js';

export interface MigrationLockSettings {
  readonly tableName: string;
  readonly lockMode: NonNullable<MigrationsConfig['lockMode']>;
  /** Milliseconds a lease lives without renewal (lease-based locks). */
  readonly leaseTtl: number;
}

/**
 * What an engine offers the migration manager (the `migrations` part of its definition): where the history lives,
 * how runners exclude each other, and whether it runs SQL files. Each engine implements it in its own folder.
 */
export interface MigrationPart {
  /** True when the engine runs SQL migration files; others take only module migrations. */
  readonly sql: boolean;
  history(adapter: DatabaseAdapter, tableName: string): MigrationHistory;
  /** A fresh lock object per run (locks hold per-run state). */
  lock(adapter: DatabaseAdapter, settings: MigrationLockSettings): ExclusiveLock;
  /** SQL run first inside every migration's transaction (PostgreSQL: stop when the client dies). */
  readonly transactionPreamble?: string;
}
