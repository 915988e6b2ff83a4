import { MongoClient, MongoNetworkError, MongoServerSelectionError, type Document, type TopologyType } from 'mongodb';
import { AdapterCore } from '../../adapters/adapter-core.js';
import type { AdapterCapabilities } from '../../adapters/capabilities.js';
import type { DatabaseAdapter, Row } from '../../adapters/database-adapter.js';
import type { DatabaseMetrics } from '../../adapters/database-metrics.js';
import type { HealthStatus } from '../../adapters/health-status.js';
import type { ResolvedDatabaseConfig } from '../../config/database-config.js';
import { CapabilityError, UsageError, type DatakeepError } from '../../errors/index.js';
import type { AdapterDependencies } from '../engine-definition.js';
import { classifyTopology, type MongoTopology } from './classify-topology.js';
import { mapMongoError, type MongoErrorPhase } from './map-mongo-error.js';
import { mongoClientOptions, type MongoConnectionPlan } from './mongo-client-options.js';
import { MongoCommandMetrics } from './mongo-command-metrics.js';
import { MongoPoolTracker } from './mongo-pool-tracker.js';
import type { MongoTransactionContext, MongoTransactionOptions } from './mongo-transaction-options.js';
import { MongoTransactionRunner } from './mongo-transaction-runner.js';
import { parseMongoCommand, type MongoCommand } from './parse-mongo-command.js';
import { helloCommand, probeMongoHealth } from './probe-mongo-health.js';
import { runMongoCommand, type MongoCommandOutcome } from './run-mongo-command.js';

export type { MongoTransactionContext, MongoTransactionOptions } from './mongo-transaction-options.js';

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

/** Only "could not reach a server" failures count against the circuit; a server that answers with an error is reachable. */
const unreachable = (raw: unknown): boolean => raw instanceof MongoServerSelectionError || raw instanceof MongoNetworkError;

/**
 * MongoDB on the official driver: one MongoClient (with its per-server pools) per adapter. Commands take the JSON
 * command form (docs/mongodb.md); transactions follow the driver's retry rules (MongoTransactionRunner); metrics come
 * from the driver's command-monitoring and connection-pool events; connection, breaker and health from the core.
 */
export class MongodbAdapter implements DatabaseAdapter {
  readonly id: string;
  readonly type = 'mongodb';
  readonly capabilities = CAPABILITIES;

  readonly #config: ResolvedDatabaseConfig;
  readonly #plan: MongoConnectionPlan;
  readonly #core: AdapterCore;
  readonly #commandMetrics: MongoCommandMetrics;
  readonly #pool = new MongoPoolTracker();
  readonly #transactions: MongoTransactionRunner;
  #client: MongoClient | undefined;
  #topology: MongoTopology | undefined;
  #driverTopology: TopologyType | undefined;

  /** Throws ConfigurationError when the configuration cannot be turned into driver options. */
  constructor(config: ResolvedDatabaseConfig, deps: AdapterDependencies) {
    this.id = config.id;
    this.#config = config;
    this.#plan = mongoClientOptions(config);
    this.#core = new AdapterCore(config, 'mongodb', deps, {
      open: () => this.#open(),
      shutdown: () => this.#shutdown(),
      probe: () => probeMongoHealth(this.#requireClient(), (call) => this.#operate(call), (topology) => (this.#topology = topology)),
      connections: () => ({ ...this.#pool.snapshot(), max: this.#plan.maxPoolSize }),
      mapConnectError: (raw) => this.#map(raw, 'connect'),
      mapError: (raw) => this.#map(raw, 'query'),
      poolLabel: `pool of ${this.#plan.maxPoolSize} per server`,
      healthTimeoutMs: this.#plan.serverSelectionTimeoutMs,
    });
    this.#commandMetrics = new MongoCommandMetrics(this.#core.instruments, (failure) => this.#map(failure, 'query').code);
    this.#transactions = new MongoTransactionRunner({
      id: config.id,
      logger: deps.logger,
      instruments: this.#core.instruments,
      defaultTimeLimitMs: this.#plan.transactionTimeLimitMs,
      commit: (session) => this.#operate(() => session.commitTransaction(), 'commit'),
      runInSession: (command, session) => this.#operate((client) => runMongoCommand(client, this.#plan.database, command, { session, maxTimeMS: this.#config.statementTimeout })),
      parse: (input, params) => this.#parse(input, params),
      mapDriverError: (error) => this.#map(error, 'query'),
    });
  }

  connect(): Promise<void> {
    return this.#core.connect();
  }

  close(): Promise<void> {
    return this.#core.close();
  }

  /**
   * Connects and proves it with `ping`, through the circuit breaker; a failure to reach the server is retried
   * `retryAttempts` times with exponential backoff and full jitter (nothing has run yet, so retrying is safe).
   * Each attempt gets a fresh client, so a half-initialised topology never lingers.
   */
  async #open(): Promise<void> {
    this.#client = await this.#core.connectRetrying(async () => {
      const client = this.#createClient();
      try {
        await client.connect();
        await client.db(this.#plan.database).command({ ping: 1 });
        return client;
      } catch (error) {
        await client.close().catch(() => undefined);
        throw error;
      }
    });
  }

  async #shutdown(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    if (client) await client.close();
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
    client.on('topologyDescriptionChanged', (e) => (this.#driverTopology = e.newDescription.type));
    return client;
  }

  #requireClient(): MongoClient {
    if (!this.#core.connected || !this.#client) throw this.#core.notConnectedError();
    return this.#client;
  }

  #map(raw: unknown, phase: MongoErrorPhase): DatakeepError {
    return mapMongoError(this.id, raw, phase, { connect: this.#plan.serverSelectionTimeoutMs, statement: this.#config.statementTimeout });
  }

  /** Runs one driver call through the circuit breaker (see `unreachable`); errors come out mapped. */
  #operate<T>(call: (client: MongoClient) => Promise<T>, phase: MongoErrorPhase = 'query'): Promise<T> {
    const client = this.#requireClient();
    return this.#core.operate(() => call(client), unreachable, (raw) => this.#map(raw, phase), true);
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
    const tx = this.#transactions.active();
    if (tx) return this.#transactions.runIn(tx, command);
    return this.#operate((client) => runMongoCommand(client, this.#plan.database, command, { maxTimeMS: this.#config.statementTimeout }));
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
    if (this.#transactions.active()) {
      throw new CapabilityError(this.id, 'nested transactions (savepoints)', 'MongoDB transactions cannot nest and have no savepoints', 'Do the work in the outer transaction, or run separate transactions one after the other');
    }
    const settings = this.#transactions.settings(options);
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
    return this.#transactions.run(this.#requireClient(), fn, settings);
  }

  /**
   * How the driver sees the deployment (SDAM's topology type): "ReplicaSetWithPrimary"/"ReplicaSetNoPrimary" when it
   * follows a replica set's primary by itself, "Single" for one host (directConnection), "Sharded" behind mongos.
   * Throws the not-connected error before connect().
   */
  driverTopology(): TopologyType | undefined {
    this.#requireClient();
    return this.#driverTopology;
  }

  health(): Promise<HealthStatus> {
    return this.#core.health();
  }

  metrics(): DatabaseMetrics {
    return this.#core.metrics();
  }
}
