import type { AdapterCapabilities, IsolationLevel } from '../../adapters/capabilities.js';
import { AdapterCore } from '../../adapters/adapter-core.js';
import type { ConnectionStats, HealthFacts } from '../../adapters/adapter-hooks.js';
import type { AdapterCommand, DedicatedSession, Row, SqlDatabaseAdapter, TransactionContext, TransactionOptions } from '../../adapters/database-adapter.js';
import type { DatabaseMetrics } from '../../adapters/database-metrics.js';
import type { HealthStatus } from '../../adapters/health-status.js';
import type { ResolvedDatabaseConfig } from '../../config/database-config.js';
import { CapabilityError, ConnectionError, DatakeepError, QueryError, TimeoutError, UsageError } from '../../errors/index.js';
import type { AdapterInstruments } from '../../metrics/adapter-instruments.js';
import type { Logger } from '../../util/logger.js';
import type { AdapterDependencies } from '../engine-definition.js';
import type { SqlSessionDriver, StatementResult } from './sql-session.js';
import { SqlTransactionRunner } from './sql-transaction-runner.js';

/**
 * Where a driver error happened: opening a session, an autocommit statement, a statement inside an explicit transaction
 * before COMMIT (`transaction`: engines that do not tell it apart treat it as `query`), or COMMIT itself.
 */
export type ErrorPhase = 'connect' | 'query' | 'transaction' | 'commit';

/**
 * The engine-independent half of every SQL adapter: statements on pooled sessions (the hot path), scripts, dedicated
 * sessions, and transactions (SqlTransactionRunner), over the adapter core (lifecycle, connection retries, circuit
 * breaker, health, metrics). Subclasses supply the session driver, error mapping, BEGIN syntax and the health probe.
 */
export abstract class SqlAdapterBase<S> implements SqlDatabaseAdapter {
  readonly id: string;
  abstract readonly type: string;
  abstract readonly capabilities: AdapterCapabilities;

  protected readonly config: ResolvedDatabaseConfig;
  protected readonly logger: Logger;
  protected readonly core: AdapterCore;
  readonly #transactions: SqlTransactionRunner<S>;

  protected constructor(config: ResolvedDatabaseConfig, deps: AdapterDependencies) {
    this.id = config.id;
    this.config = config;
    this.logger = deps.logger;
    // `type` is a subclass field, not yet set while this constructor runs.
    this.core = new AdapterCore(config, config.type, deps, {
      open: () => this.open(),
      shutdown: () => this.shutdown(),
      probe: () => this.probe(),
      connections: () => this.poolStats(),
      mapConnectError: (raw) => this.mapError(raw, 'connect'),
      mapError: (raw) => this.mapError(raw, 'query'),
      endpoint: () => this.endpoint(),
      rotateCredentials: () => this.rotateCredentials(),
    });
    this.#transactions = new SqlTransactionRunner<S>({
      id: config.id,
      driver: () => this.driver,
      instruments: this.core.instruments,
      acquire: () => this.acquire(),
      mapError: (raw, phase) => this.mapError(raw, phase),
      beginStatements: (level, readOnly) => this.beginStatements(level, readOnly),
      isRetryableTransactionError: (error) => this.isRetryableTransactionError(error),
      run: (session, sql, params) => this.#runOn(session, this.prepareStatement(sql, params), 'transaction'),
      runScript: (session, sql) => this.#runScriptOn(session, sql, 'transaction'),
    });
  }

  protected abstract get driver(): SqlSessionDriver<S>;
  /** Opens pools/instances and proves one session works. */
  protected abstract open(): Promise<void>;
  protected abstract shutdown(): Promise<void>;
  /** Maps a driver error to a datakeep error; `phase` decides whether a connection failure is retriable. */
  protected abstract mapError(error: unknown, phase: ErrorPhase): DatakeepError;
  protected abstract probe(): Promise<HealthFacts>;
  /** Callable at any time: zeros (with the configured max) when no pool is open. */
  protected abstract poolStats(): ConnectionStats;
  /** Statements that open a transaction with the given options. */
  protected abstract beginStatements(isolationLevel: IsolationLevel | undefined, readOnly: boolean): string[];
  /** Converts the caller's placeholders to the engine's. */
  protected abstract prepareStatement(sql: string, params: readonly unknown[] | undefined): { text: string; params: readonly unknown[] | undefined };

  /**
   * The password changed: replace the pool so that new sessions use `config.password` (see
   * AdapterHooks.rotateCredentials). Each engine drains its own pool its own way; an engine without passwords
   * (PGlite) keeps this default.
   */
  protected rotateCredentials(): Promise<void> {
    return Promise.resolve();
  }

  /** The server this adapter's sessions connect to now ("host:port" or a node name), for metrics(); none by default. */
  protected endpoint(): string | undefined {
    return undefined;
  }

  /** Serialization failures and deadlocks: the whole transaction may be re-run. */
  protected isRetryableTransactionError(error: DatakeepError): boolean {
    return error instanceof QueryError && (error.sqlState === '40001' || error.sqlState === '40P01');
  }

  connect(): Promise<void> {
    return this.core.connect();
  }

  close(): Promise<void> {
    return this.core.close();
  }

  protected assertConnected(): void {
    this.core.assertConnected();
  }

  protected get instruments(): AdapterInstruments {
    return this.core.instruments;
  }

  /**
   * A dedicated session, through the circuit breaker, retried with exponential backoff and full jitter only while
   * the failure is a connection that could not be made (nothing has run yet, so retrying is safe).
   */
  protected async acquire(): Promise<S> {
    this.assertConnected();
    return this.core.connectRetrying(() => this.driver.acquire());
  }

  /** A session for open(): retried like acquire(), before the adapter counts as connected. */
  protected openSession(): Promise<S> {
    return this.core.connectRetrying(() => this.driver.acquire());
  }

  /** A session for a health probe: one attempt through the breaker, no retries (health must answer promptly). */
  protected probeSession(): Promise<S> {
    return this.core.attempt(() => this.driver.acquire());
  }

  async query<T extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<T[]> {
    return (await this.statement(sql, params)).rows as T[];
  }

  async execute(sql: string, params?: readonly unknown[]): Promise<number> {
    return (await this.statement(sql, params)).rowCount;
  }

  async command(command: AdapterCommand, params?: readonly unknown[]): Promise<unknown> {
    if (typeof command !== 'string') {
      throw new UsageError('command', `${this.type} takes SQL text, not ${Array.isArray(command) ? 'an array' : 'an object'}; pass the statement as a string with ? placeholders and params`);
    }
    return this.query(command, params);
  }

  async script(sql: string): Promise<void> {
    if (typeof sql !== 'string' || sql.trim() === '') throw new UsageError('sql', 'expected a non-empty SQL script');
    const tx = this.#transactions.active();
    if (tx) return this.#transactions.scriptIn(tx, sql);
    const session = await this.acquire();
    let broken = false;
    try {
      await this.#runScriptOn(session, sql, 'query');
    } catch (error) {
      broken = error instanceof ConnectionError;
      throw error;
    } finally {
      this.driver.release(session, broken);
    }
  }

  async #runScriptOn(session: S, sql: string, phase: 'query' | 'transaction'): Promise<void> {
    const started = performance.now();
    try {
      await this.driver.runScript(session, sql);
      this.core.instruments.record(performance.now() - started);
    } catch (raw) {
      const error = this.mapError(raw, phase);
      this.#recordFailure(started, error);
      throw error;
    }
  }

  async withSession<T>(fn: (session: DedicatedSession) => Promise<T>): Promise<T> {
    const session = await this.acquire();
    let broken = false;
    const run = async (sql: string, params: readonly unknown[] | undefined, leading?: readonly string[]) => {
      try {
        return await this.#runOn(session, this.prepareStatement(sql, params), 'query', leading);
      } catch (error) {
        if (isSessionBroken(error)) broken = true;
        throw error;
      }
    };
    try {
      return await fn({
        query: async <R extends Row = Row>(sql: string, params?: readonly unknown[]) => (await run(sql, params)).rows as R[],
        execute: async (sql: string, params?: readonly unknown[]) => (await run(sql, params)).rowCount,
        script: (sql: string) => this.#runScriptOn(session, sql, 'query'),
        ...(this.driver.runAfter ? { runAfter: (leading: readonly string[], sql: string, params?: readonly unknown[]) => run(sql, params, leading) } : {}),
      });
    } finally {
      this.driver.release(session, broken);
    }
  }

  protected async statement(sql: string, params: readonly unknown[] | undefined): Promise<StatementResult> {
    if (typeof sql !== 'string' || sql.trim() === '') {
      throw new UsageError('sql', `expected a non-empty SQL string, got ${sql === '' ? 'an empty string' : typeof sql}`);
    }
    if (params !== undefined && !Array.isArray(params)) {
      throw new UsageError('params', `expected an array of values, got ${typeof params}; pass [value1, value2, ...]`);
    }
    const tx = this.#transactions.active();
    if (tx) return this.#transactions.runIn(tx, sql, params);
    // Placeholders are checked before a connection is taken, so bad input never occupies the pool.
    const prepared = this.prepareStatement(sql, params);
    // The pooled path is the hot path (every dm.query), measured by the query-overhead benchmark: while the circuit
    // is closed with no failure counted, the session is taken straight from the driver and the statement runs inline
    // (no retry or breaker promise chain, no runOn hop); a failed acquire joins the retrying path as its attempt 1.
    const core = this.core;
    core.assertConnected();
    let session: S;
    if (core.breaker.passThrough) {
      try {
        session = await this.driver.acquire();
      } catch (raw) {
        session = await core.retryAfter(raw, () => this.driver.acquire());
      }
    } else {
      session = await core.connectRetrying(() => this.driver.acquire());
    }
    const started = performance.now();
    let broken = false;
    try {
      const result = await this.driver.run(session, prepared.text, prepared.params);
      core.instruments.record(performance.now() - started);
      return result;
    } catch (raw) {
      const error = this.mapError(raw, 'query');
      this.#recordFailure(started, error);
      broken = isSessionBroken(error);
      throw error;
    } finally {
      this.driver.release(session, broken);
    }
  }

  /** One prepared statement on a session: timed and counted in the metrics, driver errors mapped. */
  async #runOn(session: S, prepared: { text: string; params: readonly unknown[] | undefined }, phase: 'query' | 'transaction', leading?: readonly string[]): Promise<StatementResult> {
    const started = performance.now();
    try {
      const result = leading && this.driver.runAfter
        ? await this.driver.runAfter(session, leading, prepared.text, prepared.params)
        : await this.driver.run(session, prepared.text, prepared.params);
      this.core.instruments.record(performance.now() - started);
      return result;
    } catch (raw) {
      const error = this.mapError(raw, phase);
      this.#recordFailure(started, error);
      throw error;
    }
  }

  #recordFailure(started: number, error: DatakeepError): void {
    this.core.instruments.record(performance.now() - started);
    this.core.instruments.recordError(error.code);
  }

  async transaction<T>(fn: (tx: TransactionContext) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    if (typeof fn !== 'function') throw new UsageError('fn', 'expected a function (tx) => Promise<result>');
    const isolationLevel = options.isolationLevel ?? this.config.isolationLevel;
    if (isolationLevel !== undefined && !this.capabilities.isolationLevels.includes(isolationLevel)) {
      throw new CapabilityError(this.id, `isolation level "${isolationLevel}"`, `${this.type} offers ${this.capabilities.isolationLevels.join(', ')}`, 'Choose one of those levels; datakeep never downgrades silently');
    }
    const outer = this.#transactions.active();
    if (outer) {
      if (options.isolationLevel !== undefined || options.readOnly !== undefined) {
        throw new UsageError('options', 'a nested transaction() runs as a savepoint of the outer transaction and cannot change its isolation level or read-only mode; set them on the outermost call');
      }
      return this.#transactions.nested(outer, fn);
    }
    const maxAttempts = options.maxAttempts ?? 5;
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new UsageError('options.maxAttempts', 'must be an integer >= 1');
    return this.#transactions.run(fn, isolationLevel, options.readOnly ?? false, maxAttempts);
  }

  health(): Promise<HealthStatus> {
    return this.core.health();
  }

  metrics(): DatabaseMetrics {
    return this.core.metrics();
  }
}

/**
 * Whether a failed statement leaves its session unusable: a lost connection, or a client-side timeout, which leaves the
 * statement still running on that connection (a server-side cancellation, which carries the server's severity, does not).
 */
function isSessionBroken(error: unknown): boolean {
  return error instanceof ConnectionError || (error instanceof TimeoutError && error.kind === 'statement' && !(error.cause as { severity?: unknown } | undefined)?.severity);
}
