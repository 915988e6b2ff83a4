import { AsyncLocalStorage } from 'node:async_hooks';
import type { AdapterCapabilities, IsolationLevel } from '../../adapters/capabilities.js';
import type { AdapterCommand, DedicatedSession, Row, SqlDatabaseAdapter, TransactionContext, TransactionOptions } from '../../adapters/database-adapter.js';
import type { DatabaseMetrics } from '../../adapters/database-metrics.js';
import type { HealthStatus } from '../../adapters/health-status.js';
import type { ResolvedDatabaseConfig } from '../../config/database-config.js';
import {
  CapabilityError,
  ConnectionError,
  DatakeepError,
  QueryError,
  TimeoutError,
  TransactionError,
  UsageError,
} from '../../errors/index.js';
import { AdapterCounters } from '../../metrics/adapter-counters.js';
import { fullJitterDelay, sleep } from '../../resilience/backoff.js';
import { CircuitBreaker } from '../../resilience/circuit-breaker.js';
import type { Logger } from '../../util/logger.js';
import type { AdapterDependencies } from '../engine-definition.js';
import { AsyncMutex } from '../../locks/async-mutex.js';
import { AdapterLifecycle } from '../../adapters/adapter-lifecycle.js';
import type { SqlSessionDriver, StatementResult } from './sql-session.js';

export type ErrorPhase = 'connect' | 'query' | 'commit';

/** One open transaction: its session, nesting state, and whether a failed statement has poisoned it. */
interface ActiveTransaction<S> {
  readonly session: S;
  readonly adapter: object;
  closed: boolean;
  /** Set when a statement failed and no savepoint rollback has cleared it since. */
  aborted: boolean;
  savepointCounter: number;
  /** Nested transaction() calls on one transaction run one at a time: savepoints are a stack, not a tree. */
  readonly nestedLock: AsyncMutex;
}

const SAVEPOINT_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * The engine-independent half of every SQL adapter: lifecycle, connection retries behind a circuit breaker,
 * placeholders, transactions with savepoints and serialization retries, AsyncLocalStorage propagation, metrics.
 * Subclasses supply the session driver, error mapping, BEGIN syntax and the health probe.
 */
export abstract class SqlAdapterBase<S> implements SqlDatabaseAdapter {
  readonly id: string;
  abstract readonly type: string;
  abstract readonly capabilities: AdapterCapabilities;

  protected readonly config: ResolvedDatabaseConfig;
  protected readonly logger: Logger;
  protected readonly counters = new AdapterCounters();
  protected readonly breaker: CircuitBreaker;
  readonly #als = new AsyncLocalStorage<ActiveTransaction<S>>();
  readonly #lifecycle: AdapterLifecycle;
  #openTransactions = 0;

  protected constructor(config: ResolvedDatabaseConfig, deps: AdapterDependencies) {
    this.id = config.id;
    this.config = config;
    this.logger = deps.logger;
    this.breaker = new CircuitBreaker(config.id, config.circuitBreaker.failureThreshold, config.circuitBreaker.resetTimeout);
    this.#lifecycle = new AdapterLifecycle(config.id, () => this.open(), () => this.shutdown());
  }

  protected abstract get driver(): SqlSessionDriver<S>;
  /** Opens pools/instances and proves one session works. */
  protected abstract open(): Promise<void>;
  protected abstract shutdown(): Promise<void>;
  /** Maps a driver error to a datakeep error; `phase` decides whether a connection failure is retriable. */
  protected abstract mapError(error: unknown, phase: ErrorPhase): DatakeepError;
  protected abstract probe(): Promise<Omit<HealthStatus, 'adapterId' | 'type' | 'checkedAt' | 'latency' | 'status' | 'reasons'> & { reasons?: string[] }>;
  protected abstract poolStats(): { active: number; idle: number; waiting: number; total: number; max: number };
  /** Statements that open a transaction with the given options. */
  protected abstract beginStatements(isolationLevel: IsolationLevel | undefined, readOnly: boolean): string[];
  /** Converts the caller's placeholders to the engine's. */
  protected abstract prepareStatement(sql: string, params: readonly unknown[] | undefined): { text: string; params: readonly unknown[] | undefined };

  /** Serialization failures and deadlocks: the whole transaction may be re-run. */
  protected isRetryableTransactionError(error: DatakeepError): boolean {
    return error instanceof QueryError && (error.sqlState === '40001' || error.sqlState === '40P01');
  }

  connect(): Promise<void> {
    return this.#lifecycle.connect();
  }

  close(): Promise<void> {
    return this.#lifecycle.close();
  }

  protected assertConnected(): void {
    this.#lifecycle.assertConnected();
  }

  /**
   * A dedicated session, through the circuit breaker, retried with exponential backoff and full jitter only while
   * the failure is a connection that could not be made (nothing has run yet, so retrying is safe).
   */
  protected async acquire(): Promise<S> {
    this.assertConnected();
    return this.acquireRetrying(this.config.retryAttempts);
  }

  protected async acquireRetrying(retries: number): Promise<S> {
    for (let attempt = 0; ; attempt += 1) {
      this.breaker.beforeAttempt();
      try {
        const session = await this.driver.acquire();
        this.breaker.onSuccess();
        return session;
      } catch (raw) {
        const error = raw instanceof DatakeepError ? raw : this.mapError(raw, 'connect');
        this.counters.failedConnectAttempts += 1;
        this.breaker.onFailure(error);
        const retriable = (error instanceof ConnectionError && error.retriable) || (error instanceof TimeoutError && error.kind === 'connect');
        if (!retriable || attempt >= retries) throw error;
        const delay = fullJitterDelay(attempt + 1);
        this.logger.log('warn', 'connection attempt failed; retrying', { adapter: this.id, attempt: attempt + 1, delayMs: delay, error: error.message });
        await sleep(delay);
      }
    }
  }

  /** The transaction bound to the current async context for this adapter, if any. */
  protected activeTransaction(): ActiveTransaction<S> | undefined {
    const tx = this.#als.getStore();
    return tx && !tx.closed && tx.adapter === this ? tx : undefined;
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
    const tx = this.activeTransaction();
    if (tx) return this.runScriptOn(tx.session, sql, tx);
    const session = await this.acquire();
    let broken = false;
    try {
      await this.runScriptOn(session, sql);
    } catch (error) {
      broken = error instanceof ConnectionError;
      throw error;
    } finally {
      this.driver.release(session, broken);
    }
  }

  private async runScriptOn(session: S, sql: string, tx?: ActiveTransaction<S>): Promise<void> {
    const started = performance.now();
    try {
      await this.driver.runScript(session, sql);
      this.counters.recordQuery(started, false);
    } catch (raw) {
      this.counters.recordQuery(started, true);
      if (tx) tx.aborted = true;
      throw this.mapError(raw, 'query');
    }
  }

  async withSession<T>(fn: (session: DedicatedSession) => Promise<T>): Promise<T> {
    const session = await this.acquire();
    let broken = false;
    const run = async (sql: string, params: readonly unknown[] | undefined) => {
      try {
        return await this.runOn(session, this.prepareStatement(sql, params));
      } catch (error) {
        if (isSessionBroken(error)) broken = true;
        throw error;
      }
    };
    try {
      return await fn({
        query: async <R extends Row = Row>(sql: string, params?: readonly unknown[]) => (await run(sql, params)).rows as R[],
        execute: async (sql: string, params?: readonly unknown[]) => (await run(sql, params)).rowCount,
        script: (sql: string) => this.runScriptOn(session, sql),
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
    const tx = this.activeTransaction();
    if (tx) return this.runInTransaction(tx, sql, params);
    // Placeholders are checked before a connection is taken, so bad input never occupies the pool.
    const prepared = this.prepareStatement(sql, params);
    const session = await this.acquire();
    // The pooled path is the hot path (every dm.query): it runs the statement inline rather than through runOn,
    // saving a promise hop per query, as the query-overhead benchmark measured it.
    const started = performance.now();
    let broken = false;
    try {
      const result = await this.driver.run(session, prepared.text, prepared.params);
      this.counters.recordQuery(started, false);
      return result;
    } catch (raw) {
      this.counters.recordQuery(started, true);
      const error = this.mapError(raw, 'query');
      broken = isSessionBroken(error);
      throw error;
    } finally {
      this.driver.release(session, broken);
    }
  }

  private async runInTransaction(tx: ActiveTransaction<S>, sql: string, params: readonly unknown[] | undefined): Promise<StatementResult> {
    try {
      return await this.runOn(tx.session, this.prepareStatement(sql, params));
    } catch (error) {
      tx.aborted = true;
      throw error;
    }
  }

  /** One prepared statement on a session: timed and counted in the metrics, driver errors mapped. */
  private async runOn(session: S, prepared: { text: string; params: readonly unknown[] | undefined }): Promise<StatementResult> {
    const started = performance.now();
    try {
      const result = await this.driver.run(session, prepared.text, prepared.params);
      this.counters.recordQuery(started, false);
      return result;
    } catch (raw) {
      this.counters.recordQuery(started, true);
      throw this.mapError(raw, 'query');
    }
  }

  async transaction<T>(fn: (tx: TransactionContext) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    if (typeof fn !== 'function') throw new UsageError('fn', 'expected a function (tx) => Promise<result>');
    const isolationLevel = options.isolationLevel ?? this.config.isolationLevel;
    if (isolationLevel !== undefined && !this.capabilities.isolationLevels.includes(isolationLevel)) {
      throw new CapabilityError(this.id, `isolation level "${isolationLevel}"`, `${this.type} offers ${this.capabilities.isolationLevels.join(', ')}`, 'Choose one of those levels; datakeep never downgrades silently');
    }
    const outer = this.activeTransaction();
    if (outer) {
      if (options.isolationLevel !== undefined || options.readOnly !== undefined) {
        throw new UsageError('options', 'a nested transaction() runs as a savepoint of the outer transaction and cannot change its isolation level or read-only mode; set them on the outermost call');
      }
      return this.nested(outer, fn);
    }
    const maxAttempts = options.maxAttempts ?? 5;
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new UsageError('options.maxAttempts', 'must be an integer >= 1');
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.runTopLevel(fn, isolationLevel, options.readOnly ?? false);
      } catch (error) {
        if (error instanceof DatakeepError && this.isRetryableTransactionError(error)) {
          if (attempt < maxAttempts) {
            this.counters.retried += 1;
            await sleep(fullJitterDelay(attempt, 10, 1000));
            continue;
          }
          throw new TransactionError(this.id, `gave up after ${attempt} attempts: ${error.message}`, { attempts: attempt, cause: error });
        }
        throw error;
      }
    }
  }

  private async runTopLevel<T>(fn: (tx: TransactionContext) => Promise<T>, isolationLevel: IsolationLevel | undefined, readOnly: boolean): Promise<T> {
    const session = await this.acquire();
    const tx: ActiveTransaction<S> = { session, adapter: this, closed: false, aborted: false, savepointCounter: 0, nestedLock: new AsyncMutex() };
    let broken = false;
    let phase: 'begin' | 'body' | 'commit' | 'done' = 'begin';
    try {
      for (const statement of this.beginStatements(isolationLevel, readOnly)) {
        try {
          await this.driver.run(session, statement, undefined);
        } catch (raw) {
          throw this.mapError(raw, 'query');
        }
      }
      phase = 'body';
      // Node 20's AsyncLocalStorage installs a process-wide promise hook on its first run() that taxes every promise
      // of the process; disabling the storage when no transaction of this adapter is open removes the hook again.
      this.#openTransactions += 1;
      let result: T;
      try {
        result = await this.#als.run(tx, () => fn(this.contextFor(tx, 1)));
      } finally {
        this.#openTransactions -= 1;
        if (this.#openTransactions === 0) this.#als.disable();
      }
      if (tx.aborted) {
        throw new TransactionError(this.id, 'a statement failed inside the transaction and was not rolled back to a savepoint, so the transaction cannot commit; it was rolled back');
      }
      phase = 'commit';
      let commit: StatementResult;
      try {
        commit = await this.driver.run(session, 'COMMIT', undefined);
      } catch (raw) {
        const error = this.mapError(raw, 'commit');
        if (error instanceof ConnectionError) broken = true;
        throw error;
      }
      phase = 'done';
      if (commit.command === 'ROLLBACK') {
        throw new TransactionError(this.id, 'the server rolled the transaction back at COMMIT (an earlier statement failed)');
      }
      this.counters.committed += 1;
      return result;
    } catch (error) {
      if (phase === 'begin' || phase === 'body') {
        try {
          await this.driver.run(session, 'ROLLBACK', undefined);
        } catch {
          broken = true;
        }
      }
      this.counters.rolledBack += 1;
      throw error instanceof DatakeepError ? error : this.mapUserError(error);
    } finally {
      tx.closed = true;
      this.driver.release(session, broken);
    }
  }

  /** Errors thrown by the caller's own code pass through unchanged; only driver errors are mapped. */
  private mapUserError(error: unknown): unknown {
    if (error && typeof error === 'object' && 'severity' in error && 'code' in error) return this.mapError(error, 'query');
    return error;
  }

  private async nested<T>(outer: ActiveTransaction<S>, fn: (tx: TransactionContext) => Promise<T>, depth = 2): Promise<T> {
    const unlock = await outer.nestedLock.lock();
    try {
      const name = await this.createSavepoint(outer);
      let result: T;
      try {
        result = await fn(this.contextFor(outer, depth));
      } catch (error) {
        await this.rollbackToSavepoint(outer, name);
        await this.releaseSavepoint(outer, name);
        throw error;
      }
      if (outer.aborted) {
        await this.rollbackToSavepoint(outer, name);
        await this.releaseSavepoint(outer, name);
        throw new TransactionError(this.id, 'a statement failed inside a nested transaction and was not handled; rolled back to its savepoint');
      }
      await this.releaseSavepoint(outer, name);
      return result;
    } finally {
      unlock();
    }
  }

  private async createSavepoint(tx: ActiveTransaction<S>, name?: string): Promise<string> {
    if (name !== undefined && !SAVEPOINT_NAME.test(name)) {
      throw new UsageError('savepoint', `"${name}" is not a valid savepoint name; use letters, digits and _ (max 63), starting with a letter or _`);
    }
    tx.savepointCounter += 1;
    const chosen = name ?? `dk_sp_${tx.savepointCounter}`;
    await this.runControl(tx, `SAVEPOINT ${chosen}`);
    return chosen;
  }

  private async rollbackToSavepoint(tx: ActiveTransaction<S>, name: string): Promise<void> {
    if (!SAVEPOINT_NAME.test(name)) throw new UsageError('savepoint', `"${name}" is not a savepoint name this transaction created`);
    await this.runControl(tx, `ROLLBACK TO SAVEPOINT ${name}`);
    tx.aborted = false;
  }

  private async releaseSavepoint(tx: ActiveTransaction<S>, name: string): Promise<void> {
    if (!SAVEPOINT_NAME.test(name)) throw new UsageError('savepoint', `"${name}" is not a savepoint name this transaction created`);
    await this.runControl(tx, `RELEASE SAVEPOINT ${name}`);
  }

  private async runControl(tx: ActiveTransaction<S>, statement: string): Promise<void> {
    if (tx.closed) throw new TransactionError(this.id, `cannot run ${statement.split(' ')[0]}: the transaction has already ended`);
    try {
      await this.driver.run(tx.session, statement, undefined);
    } catch (raw) {
      tx.aborted = true;
      throw this.mapError(raw, 'query');
    }
  }

  private contextFor(tx: ActiveTransaction<S>, depth: number): TransactionContext {
    const ensureOpen = () => {
      if (tx.closed) throw new TransactionError(this.id, 'the transaction has already ended; keep statements inside the callback and await them');
    };
    return {
      adapterId: this.id,
      depth,
      query: async <T extends Row = Row>(sql: string, params?: readonly unknown[]) => {
        ensureOpen();
        return (await this.runInTransaction(tx, sql, params)).rows as T[];
      },
      execute: async (sql: string, params?: readonly unknown[]) => {
        ensureOpen();
        return (await this.runInTransaction(tx, sql, params)).rowCount;
      },
      savepoint: (name?: string) => this.createSavepoint(tx, name),
      rollbackTo: (name: string) => this.rollbackToSavepoint(tx, name),
      release: (name: string) => this.releaseSavepoint(tx, name),
      transaction: <T>(inner: (t: TransactionContext) => Promise<T>) => {
        ensureOpen();
        return this.nested(tx, inner, depth + 1);
      },
      script: async (sql: string) => {
        ensureOpen();
        await this.runScriptOn(tx.session, sql, tx);
      },
    };
  }

  async health(): Promise<HealthStatus> {
    const checkedAt = new Date();
    const started = performance.now();
    const base = { adapterId: this.id, type: this.type, checkedAt };
    try {
      this.assertConnected();
      const facts = await this.probe();
      const latency = Math.round((performance.now() - started) * 100) / 100;
      const reasons = [...(facts.reasons ?? [])];
      const pool = this.poolStats();
      if (pool.waiting > 0) reasons.push(`${pool.waiting} callers waiting for a connection (pool of ${pool.max} exhausted)`);
      if (latency > 1000) reasons.push(`probe took ${Math.round(latency)} ms`);
      return { ...base, ...facts, latency, status: reasons.length ? 'degraded' : 'healthy', reasons, pool: { total: pool.total, idle: pool.idle, waiting: pool.waiting } };
    } catch (error) {
      const latency = Math.round((performance.now() - started) * 100) / 100;
      const err = error instanceof DatakeepError ? error : this.mapError(error, 'query');
      const pool = this.#lifecycle.connected ? this.poolStats() : { total: 0, idle: 0, waiting: 0 };
      return { ...base, latency, status: 'unhealthy', reasons: [err.message], error: { code: err.code, message: err.message }, pool: { total: pool.total, idle: pool.idle, waiting: pool.waiting } };
    }
  }

  metrics(): DatabaseMetrics {
    const pool = this.#lifecycle.connected ? this.poolStats() : { active: 0, idle: 0, waiting: 0, total: 0, max: this.config.poolSize };
    const c = this.counters;
    return {
      adapterId: this.id,
      type: this.type,
      queries: { total: c.queriesTotal, failed: c.queriesFailed, latency: c.latency.summary() },
      transactions: { committed: c.committed, rolledBack: c.rolledBack, retried: c.retried },
      connections: { ...pool, failedAttempts: c.failedConnectAttempts },
      circuit: { state: this.breaker.state, opened: this.breaker.timesOpened },
    };
  }
}

/**
 * Whether a failed statement leaves its session unusable: a lost connection, or a client-side timeout, which leaves the
 * statement still running on that connection (a server-side cancellation, which carries the server's severity, does not).
 */
function isSessionBroken(error: unknown): boolean {
  return error instanceof ConnectionError || (error instanceof TimeoutError && error.kind === 'statement' && !(error.cause as { severity?: unknown } | undefined)?.severity);
}
