import type { IsolationLevel } from '../adapters/capabilities.js';
import type { CredentialSource } from './credential-source.js';

export type DatabaseType = 'postgresql' | 'pglite' | 'mongodb' | 'redis' | 'mariadb' | 'mysql';

export interface TlsConfig {
  /** PEM text, or a path to a PEM file, of the CA that signed the server certificate. */
  ca?: string;
  /** Client certificate (PEM text or path) for certificate authentication. */
  cert?: string;
  /** Client private key (PEM text or path). */
  key?: string;
  /** Default true: the server certificate must chain to `ca` (or the system CAs) and match the host name. */
  rejectUnauthorized?: boolean;
  /** Host name to verify the certificate against when it differs from `host`. */
  servername?: string;
}

/**
 * One database, as the seed's `DatabaseConfig` describes it, plus optional extras. Every field the seed lists keeps its
 * meaning; `url` may replace host/port/database/username/password, and explicit fields override the URL's parts.
 */
export interface DatabaseConfig {
  type?: DatabaseType;
  host?: string;
  port?: number;
  database?: string;
  username?: string;
  password?: string;
  ssl?: boolean | TlsConfig;
  /** Maximum pooled connections (default 10). */
  poolSize?: number;
  /** Connect timeout in milliseconds (default 10000). */
  timeout?: number;
  /** Extra connection attempts, with exponential backoff and full jitter, when a connection cannot be made (default 3). */
  retryAttempts?: number;

  /** Adapter id; default `${type}-${host}-${database}`. */
  id?: string;
  /** A connection URL (postgres://, redis://, mongodb://, mariadb://, mysql://, pglite:PATH). */
  url?: string;
  /**
   * Read the password from this file (trailing newline removed); for secrets mounted as files. The file is watched
   * while the database is connected: when its content changes, new connections use the new password and the pool's
   * connections are replaced (docs/configuration.md, "Credentials and rotation").
   */
  passwordFile?: string;
  /** Marks the SQL database that `DataManager.query/execute` use (default: the first SQL database). */
  default?: boolean;
  /** Server-side statement timeout in milliseconds (default: none). */
  statementTimeout?: number;
  /** Shown to the server (pg_stat_activity.application_name); default "datakeep". */
  applicationName?: string;
  circuitBreaker?: {
    /** Consecutive connection failures that open the circuit (default 5). */
    failureThreshold?: number;
    /** Milliseconds the circuit stays open before one probe is let through (default 10000). */
    resetTimeout?: number;
  };
  /** Default isolation level of `transaction()` when the call gives none (default: the engine's). */
  isolationLevel?: IsolationLevel;
  /** PGlite only: the data directory (default ./.datakeep/data); "memory" keeps it in memory. */
  dataDir?: string;
  /** Engine-specific options that later adapters read (sentinels, replica set, ...). */
  options?: Record<string, unknown>;
}

/**
 * A validated, frozen configuration with defaults filled in. `password` is non-enumerable, and reads the credential
 * source's current value: with a `passwordFile`, it follows the file.
 */
export interface ResolvedDatabaseConfig {
  readonly id: string;
  readonly type: DatabaseType;
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly ssl: false | Readonly<TlsConfig>;
  readonly poolSize: number;
  readonly timeout: number;
  readonly retryAttempts: number;
  readonly default: boolean;
  readonly statementTimeout: number | undefined;
  readonly applicationName: string;
  readonly circuitBreaker: { readonly failureThreshold: number; readonly resetTimeout: number };
  readonly isolationLevel: IsolationLevel | undefined;
  readonly dataDir: string | undefined;
  readonly options: Readonly<Record<string, unknown>>;
  /** The original URL with its password, for drivers that take a URL (non-enumerable, never printed). */
  readonly url: string | undefined;
  /** Where `password` comes from, for adapters that replace their connections when it changes (non-enumerable). */
  readonly credentials: CredentialSource;
}
