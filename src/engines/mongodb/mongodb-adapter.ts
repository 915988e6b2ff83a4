import { AdapterLifecycle } from '../../adapters/adapter-lifecycle.js';
import { AsyncLocalStorage } from 'node:async_hooks';
import {
  MongoClient,
  MongoError,
  MongoNetworkError,
  MongoServerError,
  MongoServerSelectionError,
  ReadPreference,
  type ClientSession,
  type Db,
  type Document,
  type TransactionOptions as DriverTransactionOptions,
} from 'mongodb';
import type { AdapterCapabilities } from '../../adapters/capabilities.js';
import type { DatabaseAdapter, Row, TransactionContext, TransactionOptions } from '../../adapters/database-adapter.js';
import type { DatabaseMetrics } from '../../adapters/database-metrics.js';
import type { HealthStatus } from '../../adapters/health-status.js';
import type { ResolvedDatabaseConfig } from '../../config/database-config.js';
import {
  CapabilityError,
  ConnectionError,
  DatakeepError,
  LifecycleError,
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
import { classifyTopology, type MongoTopology } from './classify-topology.js';
import { decideTransactionRetry, errorLabels, UNKNOWN_TRANSACTION_COMMIT_RESULT } from './decide-transaction-retry.js';
import { healthFromHello } from './health-from-hello.js';
import { mapMongoError, type MongoErrorPhase } from './map-mongo-error.js';
import { MongoCommandMetrics } from './mongo-command-metrics.js';
import { mongoClientOptions, type MongoConnectionPlan } from './mongo-client-options.js';
import { MongoPoolTracker } from './mongo-pool-tracker.js';
import { parseMongoCommand, type MongoCommand } from './parse-mongo-command.js';
import { runMongoCommand, type MongoCommandOutcome } from './run-mongo-command.js';

const CAPABILITIES: AdapterCapabilities = Object.freeze({
  sql: false,
  // On replica sets and sharded clusters; a standalone mongod refuses them with a CapabilityError at call time.
  transactions: true,
  savepoints: false,
  // MongoDB transactions read one snapshot; their guarantees are chosen with readConcern, not SQL isolation levels.
  isolationLevels: Object.freeze([]) as readonly [],
  readOnlyTransactions: false,
  transactionalDdl: false,
  twoPhase: 'one-phase',
  physicalBackup: false,
  pointInTimeRecovery: true,
  replicationControl: true,
});

const READ_CONCERNS = ['majority', 'snapshot', 'local'] as const;
type ReadConcernLevel = (typeof READ_CONCERNS)[number];
const COMMAND_NOT_FOUND = 59;

/** MongoDB-specific transaction options, on top of the contract's. */
export interface MongoTransactionOptions extends TransactionOptions {
  /** Default "majority": the transaction reads data a majority acknowledged. "snapshot" adds one point in time across shards. */
  readConcern?: ReadConcernLevel;
  /** Default `{w: "majority"}`: the commit returns once a majority of members has it. */
  writeConcern?: { w?: number | 'majority'; journal?: boolean; wtimeoutMS?: number };
  /** Cap on the whole call, body re-runs and commit retries included (default 120000 or options.transactionTimeLimitMs). */
  timeLimitMs?: number;
  /** Server-side limit of each commitTransaction. */
  maxCommitTimeMS?: number;
}

/** The handle a MongoDB transaction callback receives: the contract's, plus `command()` with any result shape. */
export interface MongoTransactionContext extends TransactionContext {
  query<T extends Row = Row>(command: string | Document, params?: readonly unknown[]): Promise<T[]>;
  execute(command: string | Document, params?: readonly unknown[]): Promise<number>;
  command(command: string | readonly unknown[] | Document): Promise<unknown>;
}

interface ActiveMongoTransaction {
  readonly session: ClientSession;
  readonly adapter: object;
  closed: boolean;
  /** The first command failure inside the body: MongoDB has aborted the transaction server-side by then. */
  failure: DatakeepError | undefined;
  /** Commands of one transaction run one at a time: a session is a single sequence of operations. */
  readonly lock: AsyncMutex;
}

/**
 * MongoDB on the official driver: one MongoClient (with its per-server pools) per adapter. Commands take the JSON
 * command form (docs/mongodb.md); transactions follow the driver's retry rules, spelled out in
 * decideTransactionRetry; metrics come from the driver's command-monitoring and connection-pool events.
 */
export class MongodbAdapter implements DatabaseAdapter {
  readonly id: string;
  readonly type = 'mongodb';
  readonly capabilities = CAPABILITIES;

  readonly #config: ResolvedDatabaseConfig;
  readonly #logger: Logger;
  readonly #plan: MongoConnectionPlan;
  readonly #counters = new AdapterCounters();
  readonly #commandMetrics = new MongoCommandMetrics(this.#counters);
  readonly #pool = new MongoPoolTracker();
  readonly #breaker: CircuitBreaker;
  readonly #als = new AsyncLocalStorage<ActiveMongoTransaction>();
  #openTransactions = 0;
  #client: MongoClient | undefined;
  #topology: MongoTopology | undefined;
  readonly #lifecycle: AdapterLifecycle;

  /** Throws ConfigurationError when the configuration cannot be turned into driver options. */
  constructor(config: ResolvedDatabaseConfig, deps: AdapterDependencies) {
    this.id = config.id;
    this.#lifecycle = new AdapterLifecycle(config.id, () => this.#open(), () => this.#shutdown());
    this.#config = config;
    this.#logger = deps.logger;
    this.#plan = mongoClientOptions(config);
    this.#breaker = new CircuitBreaker(config.id, config.circuitBreaker.failureThreshold, config.circuitBreaker.resetTimeout);
  }

  connect(): Promise<void> {
    return this.#lifecycle.connect();
  }

  close(): Promise<void> {
    return this.#lifecycle.close();
  }

  async #shutdown(): Promise<void> {
      const client = this.#client;
      this.#client = undefined;
      if (client) await client.close();
  }

  /**
   * Connects and proves it with `ping`, through the circuit breaker; a failure to reach the server is retried
   * `retryAttempts` times with exponential backoff and full jitter (nothing has run yet, so retrying is safe).
   * Each attempt gets a fresh client, so a half-initialised topology never lingers.
   */
  async #open(): Promise<void> {
    for (let attempt = 0; ; attempt += 1) {
      this.#breaker.beforeAttempt();
      let client: MongoClient | undefined;
      try {
        client = this.#createClient();
        await client.connect();
        await client.db(this.#plan.database).command({ ping: 1 });
        this.#breaker.onSuccess();
        this.#client = client;
        return;
      } catch (raw) {
        await client?.close().catch(() => undefined);
        const error = this.#map(raw, 'connect');
        this.#counters.failedConnectAttempts += 1;
        this.#breaker.onFailure(error);
        const retriable = (error instanceof ConnectionError && error.retriable) || (error instanceof TimeoutError && error.kind === 'connect');
        if (!retriable || attempt >= this.#config.retryAttempts) throw error;
        const delay = fullJitterDelay(attempt + 1);
        this.#logger.log('warn', 'connection attempt failed; retrying', { adapter: this.id, attempt: attempt + 1, delayMs: delay, error: error.message });
        await sleep(delay);
      }
    }
  }

  #createClient(): MongoClient {
    const client = new MongoClient(this.#plan.url, this.#plan.options);
    client.on('commandSucceeded', (e) => this.#commandMetrics.onSucceeded(e));
    client.on('commandFailed', (e) => this.#commandMetrics.onFailed(e));
    client.on('connectionCreated', (e) => this.#pool.connectionCreated(e));
    client.on('connectionClosed', (e) => this.#pool.connectionClosed(e));
    client.on('connectionCheckOutStarted', (e) => this.#pool.checkOutStarted(e));
    client.on('connectionCheckOutFailed', (e) => this.#pool.checkOutFailed(e));
    client.on('connectionCheckedOut', (e) => this.#pool.checkedOut(e));
    client.on('connectionCheckedIn', (e) => this.#pool.checkedIn(e));
    client.on('connectionPoolClosed', (e) => this.#pool.poolClosed(e));
    return client;
  }

  #requireClient(): MongoClient {
    if (!this.#lifecycle.connected || !this.#client) {
      throw new LifecycleError(this.#lifecycle.closed ? `${this.id}: the adapter is closed` : `${this.id}: call connect() (or DataManager.initialize()) first`);
    }
    return this.#client;
  }

  #map(raw: unknown, phase: MongoErrorPhase): DatakeepError {
    return mapMongoError(this.id, raw, phase, { connect: this.#plan.serverSelectionTimeoutMs, statement: this.#config.statementTimeout });
  }

  /**
   * Runs one driver call through the circuit breaker. Only "could not reach a server" failures (server selection,
   * network) count against the circuit; a server that answers with an error is reachable.
   */
  async #operate<T>(call: (client: MongoClient) => Promise<T>, phase: MongoErrorPhase = 'query'): Promise<T> {
    const client = this.#requireClient();
    this.#breaker.beforeAttempt();
    try {
      const result = await call(client);
      this.#breaker.onSuccess();
      return result;
    } catch (raw) {
      const error = this.#map(raw, phase);
      if (raw instanceof MongoServerSelectionError || raw instanceof MongoNetworkError) {
        this.#counters.failedConnectAttempts += 1;
        this.#breaker.onFailure(error);
      } else {
        this.#breaker.onSuccess();
      }
      throw error;
    }
  }

  #parse(input: unknown, params: readonly unknown[] | undefined): MongoCommand {
    if (params !== undefined && !(Array.isArray(params) && params.length === 0)) {
      throw new UsageError('params', 'MongoDB commands carry their values inline; build the command as an object (values stay typed and need no escaping) instead of passing params');
    }
    return parseMongoCommand(input);
  }

  async #run(input: unknown, params: readonly unknown[] | undefined): Promise<MongoCommandOutcome> {
    this.#requireClient();
    const command = this.#parse(input, params);
    const tx = this.#activeTransaction();
    if (tx) return this.#runInTransaction(tx, command);
    return this.#operate((client) => runMongoCommand(client, this.#plan.database, command, { maxTimeMS: this.#config.statementTimeout }));
  }

  async #runInTransaction(tx: ActiveMongoTransaction, command: MongoCommand): Promise<MongoCommandOutcome> {
    const unlock = await tx.lock.lock();
    try {
      if (tx.closed) throw new TransactionError(this.id, 'the transaction has already ended; keep commands inside the callback and await them');
      return await this.#operate((client) => runMongoCommand(client, this.#plan.database, command, { session: tx.session, maxTimeMS: this.#config.statementTimeout }));
    } catch (error) {
      if (!tx.closed && tx.failure === undefined && error instanceof DatakeepError) tx.failure = error;
      throw error;
    } finally {
      unlock();
    }
  }

  #activeTransaction(): ActiveMongoTransaction | undefined {
    const tx = this.#als.getStore();
    return tx && !tx.closed && tx.adapter === this ? tx : undefined;
  }

  /**
   * Runs one command in the JSON command form (text, object, or the array short forms) and returns documents for
   * find/aggregate, a number for count, a summary for writes, the reply for runCommand. Inside `transaction()` it
   * runs in the transaction.
   */
  async command(command: string | readonly unknown[] | Document, params?: readonly unknown[]): Promise<unknown> {
    return (await this.#run(command, params)).reply;
  }

  /** The same command form; returns the documents (writes and runCommand: one summary/reply document). */
  async query<T extends Row = Row>(command: string | Document, params?: readonly unknown[]): Promise<T[]> {
    return (await this.#run(command, params)).rows as T[];
  }

  /** The same command form; returns the server's `n`: inserted, matched + upserted, deleted, or documents returned. */
  async execute(command: string | Document, params?: readonly unknown[]): Promise<number> {
    return (await this.#run(command, params)).affected;
  }

  /** The deployment kind, from `hello` (cached: a standalone cannot turn into a replica set without a restart). */
  async #topologyInfo(): Promise<MongoTopology> {
    if (this.#topology) return this.#topology;
    const hello = await this.#operate((client) => helloCommand(client.db('admin')));
    this.#topology = classifyTopology(hello);
    return this.#topology;
  }

  /**
   * Runs `fn` in a MongoDB transaction, with the driver's retry rules made explicit (decideTransactionRetry):
   * TransientTransactionError re-runs the whole callback, UnknownTransactionCommitResult re-runs only the commit, both
   * within `timeLimitMs` (default 120 s). `maxAttempts`, when given, also caps callback runs. The callback must be
   * safe to re-run. Reads and writes use majority read and write concern unless the options say otherwise.
   */
  async transaction<T>(fn: (tx: MongoTransactionContext) => Promise<T>, options: MongoTransactionOptions = {}): Promise<T> {
    if (typeof fn !== 'function') throw new UsageError('fn', 'expected a function (tx) => Promise<result>');
    const level = options.isolationLevel ?? this.#config.isolationLevel;
    if (level !== undefined) {
      throw new CapabilityError(
        this.id,
        `isolation level "${level}"`,
        'MongoDB transactions read one snapshot; what they see is chosen with readConcern, not with SQL isolation levels',
        'Leave isolationLevel unset and pass {readConcern: "snapshot"} (or "majority", the default) to transaction()',
      );
    }
    if (options.readOnly === true) {
      throw new CapabilityError(this.id, 'read-only transactions', 'MongoDB has no read-only transaction mode', 'Use a transaction with readConcern "snapshot" that only reads, or plain reads outside a transaction');
    }
    if (this.#activeTransaction()) {
      throw new CapabilityError(this.id, 'nested transactions (savepoints)', 'MongoDB transactions cannot nest and have no savepoints', 'Do the work in the outer transaction, or run separate transactions one after the other');
    }
    const settings = this.#transactionSettings(options);
    this.#requireClient();
    const topology = await this.#topologyInfo();
    if (!topology.transactions) {
      throw new CapabilityError(
        this.id,
        'transactions',
        topology.transactionsUnavailableReason ?? 'the deployment does not support them',
        'Run a single-node replica set: start mongod with --replSet rs0, run rs.initiate() once in mongosh, and connect with ?replicaSet=rs0 (or options.replicaSet: "rs0")',
      );
    }
    const session = this.#requireClient().startSession();
    try {
      return await this.#transactionLoop(session, fn, settings);
    } finally {
      await session.endSession().catch(() => undefined);
    }
  }

  #transactionSettings(options: MongoTransactionOptions) {
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
    return { driverOptions, maxAttempts, timeLimitMs: timeLimitMs ?? this.#plan.transactionTimeLimitMs };
  }

  async #transactionLoop<T>(
    session: ClientSession,
    fn: (tx: MongoTransactionContext) => Promise<T>,
    settings: { driverOptions: DriverTransactionOptions; maxAttempts: number | undefined; timeLimitMs: number },
  ): Promise<T> {
    const started = performance.now();
    const elapsed = () => performance.now() - started;
    let bodyRuns = 0;
    body: for (;;) {
      session.startTransaction(settings.driverOptions);
      bodyRuns += 1;
      const tx: ActiveMongoTransaction = { session, adapter: this, closed: false, failure: undefined, lock: new AsyncMutex() };
      let result: T | undefined;
      let thrown: { error: unknown } | undefined;
      // See SqlAdapterBase: the storage is disabled whenever no transaction is open, so that Node's promise hook does
      // not tax the whole process after the first transaction.
      this.#openTransactions += 1;
      try {
        result = await this.#als.run(tx, () => fn(this.#contextFor(tx)));
      } catch (error) {
        thrown = { error };
      } finally {
        this.#openTransactions -= 1;
        if (this.#openTransactions === 0) this.#als.disable();
      }
      // Let commands the callback started but did not await finish, then refuse any more.
      (await tx.lock.lock())();
      tx.closed = true;

      if (thrown || tx.failure) {
        await this.#abort(session);
        this.#counters.rolledBack += 1;
        const error = thrown ? thrown.error : tx.failure;
        const decision = decideTransactionRetry({ phase: 'body', error, elapsedMs: elapsed(), timeLimitMs: settings.timeLimitMs, bodyRuns, maxBodyRuns: settings.maxAttempts });
        if (decision.action === 'retry-body') {
          this.#counters.retried += 1;
          this.#logger.log('debug', 'transaction re-run', { adapter: this.id, run: bodyRuns + 1, reason: decision.reason });
          await sleep(decision.delayMs);
          continue body;
        }
        if (decision.timedOut || errorLabels(error).has('TransientTransactionError')) {
          throw new TransactionError(this.id, `gave up after ${bodyRuns} run(s) in ${Math.round(elapsed())} ms: ${decision.reason}; last error: ${messageOf(error)}`, { attempts: bodyRuns, cause: error });
        }
        if (!thrown) {
          throw new TransactionError(
            this.id,
            `a command failed inside the transaction and the callback carried on (${messageOf(error)}). MongoDB aborts a transaction when one of its commands fails, so it was rolled back; let the error propagate out of the callback`,
            { attempts: bodyRuns, cause: error },
          );
        }
        throw this.#mapUserError(thrown.error);
      }

      for (;;) {
        try {
          await this.#operate(() => session.commitTransaction(), 'commit');
          this.#counters.committed += 1;
          return result as T;
        } catch (error) {
          const decision = decideTransactionRetry({ phase: 'commit', error, elapsedMs: elapsed(), timeLimitMs: settings.timeLimitMs, bodyRuns, maxBodyRuns: settings.maxAttempts });
          if (decision.action === 'retry-commit') {
            this.#counters.retried += 1;
            this.#logger.log('debug', 'transaction commit retried', { adapter: this.id, reason: decision.reason });
            continue;
          }
          if (decision.action === 'retry-body') {
            this.#counters.rolledBack += 1;
            this.#counters.retried += 1;
            this.#logger.log('debug', 'transaction re-run after commit', { adapter: this.id, run: bodyRuns + 1, reason: decision.reason });
            await sleep(decision.delayMs);
            continue body;
          }
          const outcomeUnknown = errorLabels(error).has(UNKNOWN_TRANSACTION_COMMIT_RESULT) || (error instanceof ConnectionError && error.outcomeUnknown);
          if (!outcomeUnknown) this.#counters.rolledBack += 1;
          if (error instanceof ConnectionError && error.outcomeUnknown) throw error;
          if (outcomeUnknown) {
            throw new TransactionError(this.id, `the commit outcome is unknown (${decision.reason}): the transaction may or may not have committed; check the data before running it again. Last error: ${messageOf(error)}`, { attempts: bodyRuns, cause: error });
          }
          if (decision.timedOut) {
            throw new TransactionError(this.id, `gave up after ${bodyRuns} run(s): ${decision.reason}; last error: ${messageOf(error)}`, { attempts: bodyRuns, cause: error });
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
      this.#logger.log('debug', 'abortTransaction failed (the server aborts it on its own)', { adapter: this.id, error: messageOf(error) });
    }
  }

  /** Errors thrown by the caller's own code pass through unchanged; only driver errors are mapped. */
  #mapUserError(error: unknown): unknown {
    if (error instanceof DatakeepError) return error;
    if (error instanceof MongoError) return this.#map(error, 'query');
    return error;
  }

  #contextFor(tx: ActiveMongoTransaction): MongoTransactionContext {
    const noSavepoints = () =>
      Promise.reject(new CapabilityError(this.id, 'savepoints', 'MongoDB transactions have no savepoints and cannot nest', 'Split the work into separate transactions, or let the whole transaction fail and re-run it'));
    const run = async (input: unknown, params?: readonly unknown[]) => {
      if (tx.closed) throw new TransactionError(this.id, 'the transaction has already ended; keep commands inside the callback and await them');
      return this.#runInTransaction(tx, this.#parse(input, params));
    };
    return {
      adapterId: this.id,
      depth: 1,
      query: async <R extends Row = Row>(command: string | Document, params?: readonly unknown[]) => (await run(command, params)).rows as R[],
      execute: async (command: string | Document, params?: readonly unknown[]) => (await run(command, params)).affected,
      command: async (command: string | readonly unknown[] | Document) => (await run(command)).reply,
      savepoint: noSavepoints,
      rollbackTo: noSavepoints,
      release: noSavepoints,
      transaction: noSavepoints,
      script: () =>
        Promise.reject(new CapabilityError(this.id, 'SQL scripts', 'MongoDB takes JSON commands, not SQL text', 'Run each command with tx.command(), tx.query() or tx.execute() (see docs/mongodb.md)')),
    };
  }

  async health(): Promise<HealthStatus> {
    const checkedAt = new Date();
    const started = performance.now();
    const base = { adapterId: this.id, type: this.type, checkedAt };
    try {
      const [hello, buildInfo] = await this.#operate((client) => {
        const admin = client.db('admin');
        return Promise.all([helloCommand(admin), admin.command({ buildInfo: 1 })]);
      });
      this.#topology = classifyTopology(hello);
      let replSetStatus: Document | undefined;
      let replSetStatusError: string | undefined;
      if (this.#topology.kind === 'replica-set') {
        try {
          replSetStatus = await this.#requireClient().db('admin').command({ replSetGetStatus: 1 });
        } catch (error) {
          replSetStatusError = `replSetGetStatus failed (${messageOf(error)}); grant the clusterMonitor role to see members and lag`;
        }
      }
      const facts = healthFromHello({ hello, buildInfo, replSetStatus, replSetStatusError });
      const latency = roundMs(performance.now() - started);
      const reasons = [...facts.reasons];
      const pool = this.#pool.snapshot();
      if (pool.waiting > 0) reasons.push(`${pool.waiting} callers waiting for a connection (pool of ${this.#plan.maxPoolSize} per server exhausted)`);
      if (latency > 1000) reasons.push(`probe took ${Math.round(latency)} ms`);
      return {
        ...base,
        ...(facts.serverVersion !== undefined ? { serverVersion: facts.serverVersion } : {}),
        inRecovery: facts.inRecovery,
        details: facts.details,
        latency,
        status: reasons.length ? 'degraded' : 'healthy',
        reasons,
        pool: { total: pool.total, idle: pool.idle, waiting: pool.waiting },
      };
    } catch (error) {
      const latency = roundMs(performance.now() - started);
      const err = error instanceof DatakeepError ? error : this.#map(error, 'query');
      const pool = this.#lifecycle.connected ? this.#pool.snapshot() : { total: 0, idle: 0, waiting: 0 };
      return { ...base, latency, status: 'unhealthy', reasons: [err.message], error: { code: err.code, message: err.message }, pool: { total: pool.total, idle: pool.idle, waiting: pool.waiting } };
    }
  }

  metrics(): DatabaseMetrics {
    const pool = this.#lifecycle.connected ? this.#pool.snapshot() : { active: 0, idle: 0, waiting: 0, total: 0 };
    const c = this.#counters;
    return {
      adapterId: this.id,
      type: this.type,
      queries: { total: c.queriesTotal, failed: c.queriesFailed, latency: c.latency.summary() },
      transactions: { committed: c.committed, rolledBack: c.rolledBack, retried: c.retried },
      connections: { ...pool, max: this.#plan.maxPoolSize, failedAttempts: c.failedConnectAttempts },
      circuit: { state: this.#breaker.state, opened: this.#breaker.timesOpened },
    };
  }
}

/** `hello`, or the legacy `isMaster` on servers older than 4.4.2 that do not know it. */
async function helloCommand(admin: Db): Promise<Document> {
  try {
    return await admin.command({ hello: 1 });
  } catch (error) {
    if (error instanceof MongoServerError && error.code === COMMAND_NOT_FOUND) return admin.command({ isMaster: 1 });
    throw error;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function roundMs(ms: number): number {
  return Math.round(ms * 100) / 100;
}
