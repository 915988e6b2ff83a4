import type { AdapterCapabilities, IsolationLevel } from './capabilities.js';
import type { DatabaseMetrics } from './database-metrics.js';
import type { HealthStatus } from './health-status.js';

export type Row = Record<string, unknown>;

/** A command in an engine's native form: SQL or a redis-cli line (string), an argument array, a MongoDB command object. */
export type AdapterCommand = string | readonly unknown[] | Readonly<Record<string, unknown>>;

export interface TransactionOptions {
  isolationLevel?: IsolationLevel;
  readOnly?: boolean;
  /**
   * How many times the whole callback may run when the engine reports a serialization failure or deadlock
   * (PostgreSQL 40001/40P01). Default 5. The callback must therefore be safe to re-run: keep side effects that are
   * not in this database out of it, or make them idempotent.
   */
  maxAttempts?: number;
}

/** The handle a transaction callback receives. Statements through it run on the transaction's connection. */
export interface TransactionContext {
  readonly adapterId: string;
  /** 1 for the outermost transaction; nested `transaction()` calls run as savepoints at depth 2, 3, ... */
  readonly depth: number;
  query<T extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  execute(sql: string, params?: readonly unknown[]): Promise<number>;
  /** Creates a savepoint with a generated unique name (or the given one) and returns its name. */
  savepoint(name?: string): Promise<string>;
  rollbackTo(savepoint: string): Promise<void>;
  release(savepoint: string): Promise<void>;
  /** Runs `fn` inside a savepoint: rolled back to it if `fn` throws, released if it returns. */
  transaction<T>(fn: (tx: TransactionContext) => Promise<T>): Promise<T>;
  /** SQL text exactly as written (no placeholders, several statements allowed), inside this transaction. */
  script(sql: string): Promise<void>;
}

/** A connection held by one caller outside any transaction: for session-level locks and scripts. */
export interface DedicatedSession {
  query<T extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  execute(sql: string, params?: readonly unknown[]): Promise<number>;
  /** SQL text exactly as written (no placeholders, several statements allowed), in autocommit mode. */
  script(sql: string): Promise<void>;
  /**
   * `sql` after `leading` (statements without parameters, e.g. BEGIN) in one round trip, on engines that can pipeline
   * (PostgreSQL); an error in any of them skips the rest. Absent when the engine cannot.
   */
  runAfter?(leading: readonly string[], sql: string, params?: readonly unknown[]): Promise<{ rows: Row[]; rowCount: number }>;
}

/**
 * The contract every engine adapter implements (one conformance suite checks them all).
 * `connect` and `close` are idempotent and share an in-flight call; everything else requires a connected adapter.
 */
export interface DatabaseAdapter {
  readonly id: string;
  readonly type: string;
  readonly capabilities: AdapterCapabilities;
  connect(): Promise<void>;
  close(): Promise<void>;
  /** Runs a statement and returns its rows. SQL adapters accept `?` (or `$n`) placeholders. */
  query<T extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /** Runs a statement and returns the number of rows it affected. */
  execute(sql: string, params?: readonly unknown[]): Promise<number>;
  /**
   * Runs one command in the engine's native form (SQL text for SQL engines, a redis-cli style line or array for
   * Redis, a JSON command for MongoDB). This is what `DataManager.queryDatabase` calls.
   */
  command(command: AdapterCommand, params?: readonly unknown[]): Promise<unknown>;
  transaction<T>(fn: (tx: TransactionContext) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /** Probes the server; never throws (a failed probe is an `unhealthy` status carrying the error). */
  health(): Promise<HealthStatus>;
  metrics(): DatabaseMetrics;
}

/** What SQL adapters offer beyond the contract: raw scripts (migrations) and dedicated sessions (advisory locks). */
export interface SqlDatabaseAdapter extends DatabaseAdapter {
  /** SQL text exactly as written, several statements allowed; joins the current transaction if there is one. */
  script(sql: string): Promise<void>;
  /**
   * Runs `fn` with a connection no one else uses until it returns, outside any transaction. Session state (advisory
   * locks, SET) dies with the session if the process dies. On an engine with a single session (PGlite) this holds
   * that session, so `fn` must use only the session it is given.
   */
  withSession<T>(fn: (session: DedicatedSession) => Promise<T>): Promise<T>;
}

export function isSqlAdapter(adapter: DatabaseAdapter): adapter is SqlDatabaseAdapter {
  return adapter.capabilities.sql && typeof (adapter as Partial<SqlDatabaseAdapter>).withSession === 'function';
}
