import type { DatabaseAdapter } from '../adapters/database-adapter.js';
import type { DatabaseType, ResolvedDatabaseConfig } from '../config/database-config.js';
import type { EngineConfig } from '../config/engine-config.js';
import type { MigrationPart } from '../migrations/migration-part.js';
import type { TransactionPart } from '../transactions/transaction-part.js';
import type { BackupDriver } from '../backup/backup-driver.js';
import type { LifecycleDriver } from '../lifecycle/lifecycle-part.js';
import type { AdapterContext } from '../adapters/adapter-core.js';
import type { ReplicationDriver } from '../replication/replication-part.js';
import type { StatementStatsPart } from '../monitoring/statement-stats-part.js';
import type { CachePart } from '../cache/cache-part.js';

/** What an adapter receives besides its configuration: the logger and the DataManager's metrics registry. */
export type AdapterDependencies = AdapterContext;

/**
 * The parts of datakeep's subsystems an engine implements, each in the engine's own folder. A subsystem asks for the
 * part it needs (`enginePart`), and an engine without it answers with a CapabilityError naming the capability: no
 * subsystem ever tests an engine's type. Parts are only contracts here (type imports); the code lives in the engine.
 */
export interface EngineParts {
  /** Migration history and locks (the migration manager). */
  readonly migrations?: MigrationPart;
  /** Distributed-transaction participation and local deadlines (the transaction manager). */
  readonly transactions?: TransactionPart;
  /** Backups, restore and recovery; loaded on first use because it brings the repository and its workers. */
  readonly backup?: () => Promise<BackupDriver>;
  /** Data lifecycle: batched retention deletes, archiving, partition drops (the lifecycle manager). */
  readonly lifecycle?: LifecycleDriver;
  /** Replication: status and lag, replicas, switchover and failover steps, routing (the replication manager). */
  readonly replication?: ReplicationDriver;
  /** Statement statistics for the slowest-statements view (monitoring; PostgreSQL: pg_stat_statements). */
  readonly statements?: StatementStatsPart;
  /** The shared tier and bus of `dm.cache` (Redis: Lua scripts and pub/sub). */
  readonly cache?: CachePart;
}

/** Everything datakeep knows about one engine: the facts the configuration layer needs, its adapter, its parts. */
export interface EngineDefinition {
  readonly type: DatabaseType;
  /** Other names accepted in `type` (e.g. "postgres"). */
  readonly aliases: readonly string[];
  /** URL schemes, with the colon, that select this engine. */
  readonly urlSchemes: readonly string[];
  readonly defaultPort: number;
  readonly defaultDatabase: string;
  /** True for engines that take SQL text: candidates for the default database of `query`/`execute`. */
  readonly sql: boolean;
  /** False for engines with no server (PGlite). */
  readonly networked: boolean;
  /** Engine-specific keys allowed in `options`, for validation messages (the same as `config.optionKeys`). */
  readonly optionKeys: readonly string[];
  /** What the configuration layer asks the engine: its options' schema and rules, `database`/`dataDir`, URL hooks. */
  readonly config: EngineConfig;
  /** Loads the driver lazily so that engines a user does not configure need not be installed. */
  create(config: ResolvedDatabaseConfig, deps: AdapterDependencies): Promise<DatabaseAdapter>;
  readonly parts: EngineParts;
}
