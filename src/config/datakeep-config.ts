import type { DatabaseConfig, ResolvedDatabaseConfig } from './database-config.js';
import type { LogLevel } from '../util/logger.js';
import type { BackupsSection } from './backups-schema.js';
import type { MigrationsSection } from './migrations-schema.js';
import type { TransactionManagerOptions } from './transactions-schema.js';
import type { DataLifecycleConfig } from './lifecycle-config.js';
import type { ReplicationConfig } from '../replication/replication-types.js';
import type { ResolvedServerSection, ServerSection } from './server-schema.js';
import type { CacheSection } from './cache-schema.js';

/** The whole configuration, as written in `datakeep.config.json` (see docs/configuration.md). */
export interface DatakeepConfig {
  /** Databases as objects or URL strings. Empty or absent: the embedded PGlite database. */
  databases?: (DatabaseConfig | string)[];
  state?: StateConfig;
  logLevel?: LogLevel;
  /** Defaults for `datakeep migrate` (the same fields as initializeMigrations). */
  migrations?: Record<string, unknown>;
  /** Defaults for `datakeep backup` / `restore` (the BackupConfig fields). */
  backups?: Record<string, unknown>;
  /** Options of the transaction coordinator: nodeId, recoveryInterval, recoveryGrace, defaultTimeout, stalePreparedAfter. */
  transactions?: Record<string, unknown>;
  /** Data lifecycle policies (the seed's DataLifecycleConfig: retention, archival, cleanup); see docs/lifecycle.md. */
  lifecycle?: DataLifecycleConfig;
  /** Replication of the primary database (the seed's setupReplication config); see docs/replication.md. */
  replication?: ReplicationConfig;
  /** Where `datakeep serve` listens (host, port, TLS) and how long its shutdown waits; see docs/service.md. */
  server?: ServerSection;
  /** `dm.cache`: memory tier, Redis tier and bus, times; see docs/cache.md. */
  cache?: CacheSection;
}

export interface StateConfig {
  /** A PostgreSQL URL shared by several datakeep instances. Absent: embedded PGlite in `dir`. */
  url?: string;
  /** Directory of the embedded state store (default ./.datakeep/state). */
  dir?: string;
}

export interface ResolvedDatakeepConfig {
  readonly databases: readonly ResolvedDatabaseConfig[];
  readonly state: { readonly url: string | undefined; readonly dir: string };
  readonly logLevel: LogLevel;
  /** The `migrations` section, checked by its schema, as written (initializeMigrations fills the defaults). */
  readonly migrations: Readonly<MigrationsSection> | undefined;
  /** The `backups` section, checked by its schema, as written (merged with CLI flags, then resolved with defaults). */
  readonly backups: Readonly<BackupsSection> | undefined;
  /**
   * The `transactions` section as written (an object). The transaction manager checks it with its schema when first
   * used, and `datakeep config check` (checkConfig) before that.
   */
  readonly transactions: Readonly<TransactionManagerOptions> | undefined;
  /** The `lifecycle` section, checked by its schema, as written (the lifecycle manager resolves it). */
  readonly lifecycle: Readonly<DataLifecycleConfig> | undefined;
  /** The `replication` section, checked by its schema, as written. */
  readonly replication: Readonly<ReplicationConfig> | undefined;
  /** The `server` section with its defaults (127.0.0.1:7400, no TLS, 30 s shutdown). */
  readonly server: ResolvedServerSection;
  /** The `cache` section, checked by its schema, as written (the cache manager fills the defaults). */
  readonly cache: Readonly<CacheSection> | undefined;
  /** Where the configuration came from, for `datakeep config check`. */
  readonly source: string;
  /** True when no database was configured and the embedded default is used. */
  readonly embeddedDefault: boolean;
}
