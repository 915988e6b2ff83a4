import type { DatabaseConfig, ResolvedDatabaseConfig } from './database-config.js';
import type { LogLevel } from '../util/logger.js';

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
  lifecycle?: unknown;
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
  /** The `migrations` section as written (validated by the migration manager when used). */
  readonly migrations: Readonly<Record<string, unknown>> | undefined;
  /** The `backups` section as written (validated when used). */
  readonly backups: Readonly<Record<string, unknown>> | undefined;
  /** The `transactions` section as written (validated by the transaction manager when used). */
  readonly transactions: Readonly<Record<string, unknown>> | undefined;
  /** The `lifecycle` section as written (checked at load; resolved by the lifecycle manager). */
  readonly lifecycle: unknown;
  /** Where the configuration came from, for `datakeep config check`. */
  readonly source: string;
  /** True when no database was configured and the embedded default is used. */
  readonly embeddedDefault: boolean;
}
