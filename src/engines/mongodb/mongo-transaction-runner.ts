import { AsyncLocalStorage } from 'node:async_hooks';
import { MongoError, ReadPreference, type ClientSession, type Document, type MongoClient, type TransactionOptions as DriverTransactionOptions } from 'mongodb';
import type { Row } from '../../adapters/database-adapter.js';
import { CapabilityError, ConnectionError, DatakeepError, TransactionError, UsageError } from '../../errors/index.js';
import { AsyncMutex } from '../../locks/async-mutex.js';
import type { AdapterInstruments } from '../../metrics/adapter-instruments.js';
import { sleep } from '../../resilience/backoff.js';
import type { Logger } from '../../util/logger.js';
import { decideTransactionRetry, errorLabels, UNKNOWN_TRANSACTION_COMMIT_RESULT } from './decide-transaction-retry.js';
import { READ_CONCERNS, type MongoTransactionContext, type MongoTransactionOptions } from './mongo-transaction-options.js';
import type { MongoCommand } from './parse-mongo-command.js';
import type { MongoCommandOutcome } from './run-mongo-command.js';

interface ActiveMongoTransaction {
  readonly session: ClientSession;
  readonly owner: object;
  closed: boolean;
  /** The first command failure inside the body: MongoDB has aborted the transaction server-side by then. */
  failure: DatakeepError | undefined;
  /** Commands of one transaction run one at a time: a session is a single sequence of operations. */
  readonly lock: AsyncMutex;
}

interface Settings {
  readonly driverOptions: DriverTransactionOptions;
  readonly maxAttempts: number | undefined;
  readonly timeLimitMs: number;
}

/** What the runner needs from its adapter. */
export interface MongoTransactionHost {
  readonly id: string;
  readonly logger: Logger;
  readonly instruments: AdapterInstruments;
  readonly defaultTimeLimitMs: number;
  /** A commit through the circuit breaker, errors mapped. */
  commit(session: ClientSession): Promise<unknown>;
  /** One command in the session, through the circuit breaker, errors mapped. */
  runInSession(command: MongoCommand, session: ClientSession): Promise<MongoCommandOutcome>;
  parse(input: unknown, params: readonly unknown[] | undefined): MongoCommand;
  mapDriverError(error: MongoError): DatakeepError;
}

/**
 * MongoDB transactions with the driver's retry rules made explicit (decideTransactionRetry): TransientTransactionError
 * re-runs the callback, UnknownTransactionCommitResult re-runs only the commit, both within a time limit. The open
 * transaction is bound to the async context so that the adapter's commands inside the callback join it.
 */
export class MongoTransactionRunner {
  readonly #als = new AsyncLocalStorage<ActiveMongoTransaction>();
  #open = 0;

  constructor(private readonly host: MongoTransactionHost) {}

  /** The transaction bound to the current async context for this adapter, if any. */
  active(): ActiveMongoTransaction | undefined {
    const tx = this.#als.getStore();
    return tx && !tx.closed && tx.owner === this ? tx : undefined;
  }

  async runIn(tx: ActiveMongoTransaction, command: MongoCommand): Promise<MongoCommandOutcome> {
    const unlock = await tx.lock.lock();
    try {
      if (tx.closed) throw new TransactionError(this.host.id, 'the transaction has already ended; keep commands inside the callback and await them');
      return await this.host.runInSession(command, tx.session);
    } catch (error) {
      if (!tx.closed && tx.failure === undefined && error instanceof DatakeepError) tx.failure = error;
      throw error;
    } finally {
      unlock();
    }
  }

  /** Checks and turns the caller's options into the driver's; throws UsageError naming a bad option. */
  settings(options: MongoTransactionOptions): Settings {
    const { maxAttempts, timeLimitMs, readConcern, writeConcern, maxCommitTimeMS } = options;
    if (maxAttempts !== undefined && (!Number.isInteger(maxAttempts) || maxAttempts < 1)) throw new UsageError('options.maxAttempts', 'must be an integer >= 1');
    if (timeLimitMs !== undefined && (!Number.isInteger(timeLimitMs) || timeLimitMs < 1)) throw new UsageError('options.timeLimitMs', 'must be an integer >= 1 (milliseconds)');
    if (maxCommitTimeMS !== undefined && (!Number.isInteger(maxCommitTimeMS) || maxCommitTimeMS < 1)) throw new UsageError('options.maxCommitTimeMS', 'must be an integer >= 1 (milliseconds)');
    if (readConcern !== undefined && !READ_CONCERNS.includes(readConcern)) {
      throw new UsageError('options.readConcern', `"${String(readConcern)}" is not a transaction read concern; use ${READ_CONCERNS.join(', ')}`);
    }
    if (writeConcern !== undefined && (typeof writeConcern !== 'object' || writeConcern === null)) {
      throw new UsageError('options.writeConcern', 'must be an object such as {w: "majority"}');
    }
    const driverOptions: DriverTransactionOptions = {
      readConcern: { level: readConcern ?? 'majority' },
      writeConcern: writeConcern ?? { w: 'majority' },
      readPreference: ReadPreference.primary,
      ...(maxCommitTimeMS !== undefined ? { maxCommitTimeMS } : {}),
    };
    return { driverOptions, maxAttempts, timeLimitMs: timeLimitMs ?? this.host.defaultTimeLimitMs };
  }

  /** Runs `fn` in a transaction on a session of `client`, retried per decideTransactionRetry. */
  async run<T>(client: MongoClient, fn: (tx: MongoTransactionContext) => Promise<T>, settings: Settings): Promise<T> {
    const session = client.startSession();
    try {
      return await this.#loop(session, fn, settings);
    } finally {
      await session.endSession().catch(() => undefined);
    }
  }

  async #loop<T>(session: ClientSession, fn: (tx: MongoTransactionContext) => Promise<T>, settings: Settings): Promise<T> {
    const { id, logger, instruments: c } = this.host;
    const started = performance.now();
    const elapsed = () => performance.now() - started;
    let bodyRuns = 0;
    body: for (;;) {
      session.startTransaction(settings.driverOptions);
      bodyRuns += 1;
      const tx: ActiveMongoTransaction = { session, owner: this, closed: false, failure: undefined, lock: new AsyncMutex() };
      let result: T | undefined;
      let thrown: { error: unknown } | undefined;
      // See SqlTransactionRunner: the storage is disabled whenever no transaction is open, so that Node's promise hook
      // does not tax the whole process after the first transaction.
      this.#open += 1;
      try {
        result = await this.#als.run(tx, () => fn(this.#contextFor(tx)));
      } catch (error) {
        thrown = { error };
      } finally {
        this.#open -= 1;
        if (this.#open === 0) this.#als.disable();
      }
      // Let commands the callback started but did not await finish, then refuse any more.
      (await tx.lock.lock())();
      tx.closed = true;

      if (thrown || tx.failure) {
        await this.#abort(session);
        c.rolledBack += 1;
        const error = thrown ? thrown.error : tx.failure;
        const decision = decideTransactionRetry({ phase: 'body', error, elapsedMs: elapsed(), timeLimitMs: settings.timeLimitMs, bodyRuns, maxBodyRuns: settings.maxAttempts });
        if (decision.action === 'retry-body') {
          c.retried += 1;
          logger.log('debug', 'transaction re-run', { adapter: id, run: bodyRuns + 1, reason: decision.reason });
          await sleep(decision.delayMs);
          continue body;
        }
        if (decision.timedOut || errorLabels(error).has('TransientTransactionError')) {
          throw new TransactionError(id, `gave up after ${bodyRuns} run(s) in ${Math.round(elapsed())} ms: ${decision.reason}; last error: ${messageOf(error)}`, { attempts: bodyRuns, cause: error });
        }
        if (!thrown) {
          throw new TransactionError(
            id,
            `a command failed inside the transaction and the callback carried on (${messageOf(error)}). MongoDB aborts a transaction when one of its commands fails, so it was rolled back; let the error propagate out of the callback`,
            { attempts: bodyRuns, cause: error },
          );
        }
        throw this.#mapUserError(thrown.error);
      }

      for (;;) {
        try {
          await this.host.commit(session);
          c.committed += 1;
          return result as T;
        } catch (error) {
          const decision = decideTransactionRetry({ phase: 'commit', error, elapsedMs: elapsed(), timeLimitMs: settings.timeLimitMs, bodyRuns, maxBodyRuns: settings.maxAttempts });
          if (decision.action === 'retry-commit') {
            c.retried += 1;
            logger.log('debug', 'transaction commit retried', { adapter: id, reason: decision.reason });
            continue;
          }
          if (decision.action === 'retry-body') {
            c.rolledBack += 1;
            c.retried += 1;
            logger.log('debug', 'transaction re-run after commit', { adapter: id, run: bodyRuns + 1, reason: decision.reason });
            await sleep(decision.delayMs);
            continue body;
          }
          const outcomeUnknown = errorLabels(error).has(UNKNOWN_TRANSACTION_COMMIT_RESULT) || (error instanceof ConnectionError && error.outcomeUnknown);
          if (!outcomeUnknown) c.rolledBack += 1;
          if (error instanceof ConnectionError && error.outcomeUnknown) throw error;
          if (outcomeUnknown) {
            throw new TransactionError(id, `the commit outcome is unknown (${decision.reason}): the transaction may or may not have committed; check the data before running it again. Last error: ${messageOf(error)}`, { attempts: bodyRuns, cause: error });
          }
          if (decision.timedOut) {
            throw new TransactionError(id, `gave up after ${bodyRuns} run(s): ${decision.reason}; last error: ${messageOf(error)}`, { attempts: bodyRuns, cause: error });
          }
          throw error;
        }
      }
    }
  }

  /** Aborting is best effort: the server also aborts a transaction whose session goes away or times out. */
  async #abort(session: ClientSession): Promise<void> {
    if (!session.inTransaction()) return;
    try {
      await session.abortTransaction();
    } catch (error) {
      this.host.logger.log('debug', 'abortTransaction failed (the server aborts it on its own)', { adapter: this.host.id, error: messageOf(error) });
    }
  }

  /** Errors thrown by the caller's own code pass through unchanged; only driver errors are mapped. */
  #mapUserError(error: unknown): unknown {
    if (error instanceof DatakeepError) return error;
    if (error instanceof MongoError) return this.host.mapDriverError(error);
    return error;
  }

  #contextFor(tx: ActiveMongoTransaction): MongoTransactionContext {
    const id = this.host.id;
    const noSavepoints = () =>
      Promise.reject(new CapabilityError(id, 'savepoints', 'MongoDB transactions have no savepoints and cannot nest', 'Split the work into separate transactions, or let the whole transaction fail and re-run it'));
    const run = async (input: unknown, params?: readonly unknown[]) => {
      if (tx.closed) throw new TransactionError(id, 'the transaction has already ended; keep commands inside the callback and await them');
      return this.runIn(tx, this.host.parse(input, params));
    };
    return {
      adapterId: id,
      depth: 1,
      query: async <R extends Row = Row>(command: string | Document, params?: readonly unknown[]) => (await run(command, params)).rows as R[],
      execute: async (command: string | Document, params?: readonly unknown[]) => (await run(command, params)).affected,
      command: async (command: string | readonly unknown[] | Document) => (await run(command)).reply,
      savepoint: noSavepoints,
      rollbackTo: noSavepoints,
      release: noSavepoints,
      transaction: noSavepoints,
      script: () =>
        Promise.reject(new CapabilityError(id, 'SQL scripts', 'MongoDB takes JSON commands, not SQL text', 'Run each command with tx.command(), tx.query() or tx.execute() (see docs/mongodb.md)')),
    };
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
