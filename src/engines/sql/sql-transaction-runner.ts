import { AsyncLocalStorage } from 'node:async_hooks';
import type { IsolationLevel } from '../../adapters/capabilities.js';
import type { Row, TransactionContext } from '../../adapters/database-adapter.js';
import { ConnectionError, DatakeepError, TransactionError, UsageError } from '../../errors/index.js';
import { AsyncMutex } from '../../locks/async-mutex.js';
import type { AdapterInstruments } from '../../metrics/adapter-instruments.js';
import { fullJitterDelay, sleep } from '../../resilience/backoff.js';
import type { SqlSessionDriver, StatementResult } from './sql-session.js';

/** One open transaction: its session, nesting state, and whether a failed statement has poisoned it. */
export interface ActiveTransaction<S> {
  readonly session: S;
  readonly owner: object;
  closed: boolean;
  /** Set when a statement failed and no savepoint rollback has cleared it since. */
  aborted: boolean;
  savepointCounter: number;
  /** Nested transaction() calls on one transaction run one at a time: savepoints are a stack, not a tree. */
  readonly nestedLock: AsyncMutex;
}

/** What the runner needs from its adapter. */
export interface SqlTransactionHost<S> {
  readonly id: string;
  /** A function: subclasses create their driver after the base constructor has run. */
  driver(): SqlSessionDriver<S>;
  readonly instruments: AdapterInstruments;
  acquire(): Promise<S>;
  /**
   * Maps a driver error: `transaction` for BEGIN, savepoints and statements before COMMIT was sent (nothing can have
   * committed), `commit` for a failure of COMMIT itself (its outcome may be unknown).
   */
  mapError(raw: unknown, phase: 'transaction' | 'commit'): DatakeepError;
  beginStatements(isolationLevel: IsolationLevel | undefined, readOnly: boolean): string[];
  isRetryableTransactionError(error: DatakeepError): boolean;
  /** A caller's statement on a session: placeholders prepared, timed and counted, errors mapped. */
  run(session: S, sql: string, params: readonly unknown[] | undefined): Promise<StatementResult>;
  /** A caller's script on a session, timed and counted. */
  runScript(session: S, sql: string): Promise<void>;
}

const SAVEPOINT_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * SQL transactions for one adapter: BEGIN ... COMMIT on a dedicated session, re-run on serialization failures and
 * deadlocks, nested calls as savepoints, and the open transaction bound to the async context (AsyncLocalStorage) so
 * that `dm.query` inside the callback joins it.
 */
export class SqlTransactionRunner<S> {
  readonly #als = new AsyncLocalStorage<ActiveTransaction<S>>();
  #open = 0;

  constructor(private readonly host: SqlTransactionHost<S>) {}

  /** The transaction bound to the current async context for this adapter, if any. */
  active(): ActiveTransaction<S> | undefined {
    const tx = this.#als.getStore();
    return tx && !tx.closed && tx.owner === this ? tx : undefined;
  }

  /** A statement inside `tx`; a failure poisons the transaction until a savepoint rollback. */
  async runIn(tx: ActiveTransaction<S>, sql: string, params: readonly unknown[] | undefined): Promise<StatementResult> {
    try {
      return await this.host.run(tx.session, sql, params);
    } catch (error) {
      tx.aborted = true;
      throw error;
    }
  }

  /** A script inside `tx`. */
  async scriptIn(tx: ActiveTransaction<S>, sql: string): Promise<void> {
    try {
      await this.host.runScript(tx.session, sql);
    } catch (error) {
      tx.aborted = true;
      throw error;
    }
  }

  /** A top-level transaction, re-run up to `maxAttempts` times on serialization failures and deadlocks. */
  async run<T>(fn: (tx: TransactionContext) => Promise<T>, isolationLevel: IsolationLevel | undefined, readOnly: boolean, maxAttempts: number): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.#runOnce(fn, isolationLevel, readOnly);
      } catch (error) {
        if (error instanceof DatakeepError && this.host.isRetryableTransactionError(error)) {
          if (attempt < maxAttempts) {
            this.host.instruments.retried += 1;
            await sleep(fullJitterDelay(attempt, 10, 1000));
            continue;
          }
          throw new TransactionError(this.host.id, `gave up after ${attempt} attempts: ${error.message}`, { attempts: attempt, cause: error });
        }
        throw error;
      }
    }
  }

  async #runOnce<T>(fn: (tx: TransactionContext) => Promise<T>, isolationLevel: IsolationLevel | undefined, readOnly: boolean): Promise<T> {
    const driver = this.host.driver();
    const session = await this.host.acquire();
    const tx: ActiveTransaction<S> = { session, owner: this, closed: false, aborted: false, savepointCounter: 0, nestedLock: new AsyncMutex() };
    let broken = false;
    let phase: 'begin' | 'body' | 'commit' | 'done' = 'begin';
    try {
      for (const statement of this.host.beginStatements(isolationLevel, readOnly)) {
        try {
          await driver.run(session, statement, undefined);
        } catch (raw) {
          throw this.host.mapError(raw, 'transaction');
        }
      }
      phase = 'body';
      // Node 20's AsyncLocalStorage installs a process-wide promise hook on its first run() that taxes every promise
      // of the process; disabling the storage when no transaction of this adapter is open removes the hook again.
      this.#open += 1;
      let result: T;
      try {
        result = await this.#als.run(tx, () => fn(this.#contextFor(tx, 1)));
      } finally {
        this.#open -= 1;
        if (this.#open === 0) this.#als.disable();
      }
      if (tx.aborted) {
        throw new TransactionError(this.host.id, 'a statement failed inside the transaction and was not rolled back to a savepoint, so the transaction cannot commit; it was rolled back');
      }
      phase = 'commit';
      let commit: StatementResult;
      try {
        commit = await driver.run(session, 'COMMIT', undefined);
      } catch (raw) {
        const error = this.host.mapError(raw, 'commit');
        if (error instanceof ConnectionError) broken = true;
        throw error;
      }
      phase = 'done';
      if (commit.command === 'ROLLBACK') {
        throw new TransactionError(this.host.id, 'the server rolled the transaction back at COMMIT (an earlier statement failed)');
      }
      this.host.instruments.committed += 1;
      return result;
    } catch (error) {
      if (phase === 'begin' || phase === 'body') {
        try {
          await driver.run(session, 'ROLLBACK', undefined);
        } catch {
          broken = true;
        }
      }
      this.host.instruments.rolledBack += 1;
      throw error instanceof DatakeepError ? error : this.#mapUserError(error);
    } finally {
      tx.closed = true;
      driver.release(session, broken);
    }
  }

  /** Errors thrown by the caller's own code pass through unchanged; only driver errors are mapped. */
  #mapUserError(error: unknown): unknown {
    if (error && typeof error === 'object' && 'severity' in error && 'code' in error) return this.host.mapError(error, 'transaction');
    return error;
  }

  /** A nested transaction(): a savepoint of `outer`, rolled back if `fn` throws, released if it returns. */
  async nested<T>(outer: ActiveTransaction<S>, fn: (tx: TransactionContext) => Promise<T>, depth = 2): Promise<T> {
    const unlock = await outer.nestedLock.lock();
    try {
      const name = await this.#createSavepoint(outer);
      let result: T;
      try {
        result = await fn(this.#contextFor(outer, depth));
      } catch (error) {
        await this.#rollbackToSavepoint(outer, name);
        await this.#releaseSavepoint(outer, name);
        throw error;
      }
      if (outer.aborted) {
        await this.#rollbackToSavepoint(outer, name);
        await this.#releaseSavepoint(outer, name);
        throw new TransactionError(this.host.id, 'a statement failed inside a nested transaction and was not handled; rolled back to its savepoint');
      }
      await this.#releaseSavepoint(outer, name);
      return result;
    } finally {
      unlock();
    }
  }

  async #createSavepoint(tx: ActiveTransaction<S>, name?: string): Promise<string> {
    if (name !== undefined && !SAVEPOINT_NAME.test(name)) {
      throw new UsageError('savepoint', `"${name}" is not a valid savepoint name; use letters, digits and _ (max 63), starting with a letter or _`);
    }
    tx.savepointCounter += 1;
    const chosen = name ?? `dk_sp_${tx.savepointCounter}`;
    await this.#runControl(tx, `SAVEPOINT ${chosen}`);
    return chosen;
  }

  async #rollbackToSavepoint(tx: ActiveTransaction<S>, name: string): Promise<void> {
    if (!SAVEPOINT_NAME.test(name)) throw new UsageError('savepoint', `"${name}" is not a savepoint name this transaction created`);
    await this.#runControl(tx, `ROLLBACK TO SAVEPOINT ${name}`);
    tx.aborted = false;
  }

  async #releaseSavepoint(tx: ActiveTransaction<S>, name: string): Promise<void> {
    if (!SAVEPOINT_NAME.test(name)) throw new UsageError('savepoint', `"${name}" is not a savepoint name this transaction created`);
    await this.#runControl(tx, `RELEASE SAVEPOINT ${name}`);
  }

  async #runControl(tx: ActiveTransaction<S>, statement: string): Promise<void> {
    if (tx.closed) throw new TransactionError(this.host.id, `cannot run ${statement.split(' ')[0]}: the transaction has already ended`);
    try {
      await this.host.driver().run(tx.session, statement, undefined);
    } catch (raw) {
      tx.aborted = true;
      throw this.host.mapError(raw, 'transaction');
    }
  }

  #contextFor(tx: ActiveTransaction<S>, depth: number): TransactionContext {
    const ensureOpen = () => {
      if (tx.closed) throw new TransactionError(this.host.id, 'the transaction has already ended; keep statements inside the callback and await them');
    };
    return {
      adapterId: this.host.id,
      depth,
      query: async <T extends Row = Row>(sql: string, params?: readonly unknown[]) => {
        ensureOpen();
        return (await this.runIn(tx, sql, params)).rows as T[];
      },
      execute: async (sql: string, params?: readonly unknown[]) => {
        ensureOpen();
        return (await this.runIn(tx, sql, params)).rowCount;
      },
      savepoint: (name?: string) => this.#createSavepoint(tx, name),
      rollbackTo: (name: string) => this.#rollbackToSavepoint(tx, name),
      release: (name: string) => this.#releaseSavepoint(tx, name),
      transaction: <T>(inner: (t: TransactionContext) => Promise<T>) => {
        ensureOpen();
        return this.nested(tx, inner, depth + 1);
      },
      script: async (sql: string) => {
        ensureOpen();
        await this.scriptIn(tx, sql);
      },
    };
  }
}
