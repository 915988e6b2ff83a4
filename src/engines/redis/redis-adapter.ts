import type { Redis } from 'ioredis';
import { AdapterCore } from '../../adapters/adapter-core.js';
import type { AdapterCapabilities } from '../../adapters/capabilities.js';
import type { DatabaseAdapter, Row, TransactionContext, TransactionOptions } from '../../adapters/database-adapter.js';
import type { DatabaseMetrics } from '../../adapters/database-metrics.js';
import type { HealthStatus } from '../../adapters/health-status.js';
import type { ResolvedDatabaseConfig } from '../../config/database-config.js';
import { CapabilityError, TransactionError, UsageError, type DatakeepError } from '../../errors/index.js';
import type { AdapterDependencies } from '../engine-definition.js';
import { mapRedisError, type RedisErrorPhase } from './map-redis-error.js';
import { probeRedisHealth } from './probe-redis-health.js';
import { checkRedisConfig, redisClientOptions, type RedisSentinelSettings } from './redis-client-options.js';
import { toRedisArguments, type RedisCommand } from './redis-command.js';
import { RedisCommandRunner, type RedisArgs } from './redis-command-runner.js';
import { RedisConnections } from './redis-connections.js';
import type { RedisMessageHandler } from './redis-subscriber.js';
import type { RedisWatchContext, RedisWatchOptions, RedisWatchResult } from './redis-transaction-context.js';
import { RedisTransactions } from './redis-transactions.js';

const CAPABILITIES: AdapterCapabilities = Object.freeze({
  sql: false,
  transactions: true,
  savepoints: false,
  isolationLevels: Object.freeze([]),
  readOnlyTransactions: false,
  transactionalDdl: false,
  twoPhase: 'one-phase',
  physicalBackup: true,
  pointInTimeRecovery: true,
  replicationControl: false,
});

/**
 * Redis on ioredis: one multiplexed connection for commands, pipelines and MULTI/EXEC; a small pool of dedicated
 * connections for WATCH (whose state lives on a connection); one more for pub/sub. Standalone or Sentinel mode.
 * The parts: RedisConnections (connections), RedisCommandRunner (commands), RedisTransactions (MULTI/EXEC and
 * WATCH), RedisSubscriber (pub/sub), probeRedisHealth (health), over the adapter core.
 * See docs/redis.md for the decisions (why ioredis, reconnect rules, transaction semantics).
 */
export class RedisAdapter implements DatabaseAdapter {
  readonly id: string;
  readonly type = 'redis';
  readonly capabilities = CAPABILITIES;

  readonly #config: ResolvedDatabaseConfig;
  readonly #sentinel: RedisSentinelSettings | undefined;
  readonly #core: AdapterCore;
  readonly #connections: RedisConnections;
  readonly #commands: RedisCommandRunner;
  readonly #transactions: RedisTransactions;

  constructor(config: ResolvedDatabaseConfig, deps: AdapterDependencies) {
    this.id = config.id;
    this.#config = config;
    this.#sentinel = checkRedisConfig(config);
    this.#core = new AdapterCore(config, 'redis', deps, {
      open: () => this.#connections.open(),
      shutdown: () => this.#connections.shutdown(),
      probe: () => probeRedisHealth(this.#requireClient(), this.#sentinel),
      connections: () => this.#connections.stats(),
      mapConnectError: (raw) => this.#mapError(raw, 'connect'),
      mapError: (raw) => this.#mapError(raw, 'command'),
      poolLabel: `dedicated pool of ${config.poolSize}`,
      rotateCredentials: () => this.#connections.rotatePassword(),
    });
    this.#connections = new RedisConnections(
      { id: config.id, poolSize: config.poolSize, timeoutMs: config.timeout, options: redisClientOptions(config, this.#sentinel), password: () => config.password, sentinel: this.#sentinel, logger: deps.logger },
      this.#core,
    );
    this.#commands = new RedisCommandRunner(config.id, this.#core.breaker, this.#core.instruments, (raw) => this.#mapError(raw, 'command'));
    this.#transactions = new RedisTransactions({
      id: config.id,
      instruments: this.#core.instruments,
      commands: this.#commands,
      dedicated: this.#connections.dedicated,
      requireClient: () => this.#requireClient(),
    });
  }

  /** True when the adapter talks to Sentinels to find the master. */
  get sentinelMode(): boolean {
    return this.#sentinel !== undefined;
  }

  connect(): Promise<void> {
    return this.#core.connect();
  }

  close(): Promise<void> {
    return this.#core.close();
  }

  /**
   * Runs one command: a redis-cli style line (`'GET user:123'`, quotes and escapes as redis-cli reads them) or an
   * array (`['HSET', 'k', 'f', 'v']`); `params` are appended as further arguments. Returns the reply as a plain value
   * (string, number, array, null). An error reply is a QueryError whose `sqlState` is its code word (`WRONGTYPE`).
   */
  command(command: RedisCommand, params?: readonly unknown[]): Promise<unknown> {
    const client = this.#connections.client;
    if (!this.#core.connected || !client) return Promise.reject(this.#core.notConnectedError());
    let args: RedisArgs;
    try {
      args = toRedisArguments(command, params) as RedisArgs;
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#commands.send(client, args);
  }

  /** Redis takes commands, not SQL: a CapabilityError that names command() / queryDatabase(). */
  query<T extends Row = Row>(_sql: string, _params?: readonly unknown[]): Promise<T[]> {
    return Promise.reject(this.#noSql('query'));
  }

  execute(_sql: string, _params?: readonly unknown[]): Promise<number> {
    return Promise.reject(this.#noSql('execute'));
  }

  /**
   * Sends the commands in one round trip (not atomic: other clients' commands may interleave) and returns one reply
   * per command, in order. A command the server rejected is a QueryError value at its position, not a throw, because
   * the others ran; a connection failure rejects the whole call.
   */
  async pipeline(commands: readonly RedisCommand[]): Promise<unknown[]> {
    const client = this.#requireClient();
    const results = await this.#commands.batch(client, this.#commands.argumentsList(commands), false);
    return results ?? [];
  }

  /**
   * Runs the commands atomically (MULTI ... EXEC in one round trip) and returns EXEC's replies; a command that
   * failed at run time (e.g. WRONGTYPE) is a QueryError value at its position while the others were applied
   * (Redis does not roll back). A command refused at queue time discards the whole block: a QueryError EXECABORT.
   */
  async multi(commands: readonly RedisCommand[]): Promise<unknown[]> {
    const client = this.#requireClient();
    const results = await this.#commands.batch(client, this.#commands.argumentsList(commands), true);
    if (results === null) throw new TransactionError(this.id, 'EXEC was aborted by a WATCH on the shared connection; use watch() for optimistic transactions');
    return results;
  }

  /**
   * Runs `fn` with a context whose `queue()` collects commands; after `fn` returns they run as one MULTI/EXEC block
   * and `fn`'s result is returned. If `fn` throws, nothing was sent. A command failing inside EXEC is a
   * TransactionError (the other commands were applied: Redis has no rollback). Isolation levels, read-only mode,
   * savepoints and nesting are CapabilityErrors. See RedisTransactionContext.
   */
  async transaction<T>(fn: (tx: TransactionContext) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    return this.#transactions.transaction(fn, options);
  }

  /**
   * Optimistic transaction: on a dedicated connection, WATCHes `keys`, runs `fn` (which reads with `ctx.command()`
   * and queues writes with `ctx.queue()`), then EXECs the queued writes. When a watched key changed in between, EXEC
   * aborts and `fn` runs again, up to `maxAttempts` (default 10); then a TransactionError carries the attempt count.
   * `fn` must therefore be safe to re-run. Returns `fn`'s value from the attempt that committed, EXEC's replies and
   * the attempts made.
   */
  async watch<T>(keys: readonly string[], fn: (ctx: RedisWatchContext) => Promise<T>, options: RedisWatchOptions = {}): Promise<RedisWatchResult<T>> {
    return this.#transactions.watch(keys, fn, options);
  }

  /**
   * Subscribes `handler` to `channel` on the adapter's pub/sub connection (opened on first use, closed by close()).
   * Resolves once the server confirmed the subscription, with a function that removes this handler.
   */
  async subscribe(channel: string, handler: RedisMessageHandler): Promise<() => Promise<void>> {
    if (typeof channel !== 'string' || channel === '') throw new UsageError('channel', 'expected a non-empty channel name');
    if (typeof handler !== 'function') throw new UsageError('handler', 'expected a function (message, channel) => void');
    this.#requireClient();
    try {
      return await this.#connections.subscriber.subscribe(channel, handler);
    } catch (error) {
      throw this.#mapError(error, 'command');
    }
  }

  /** Calls `listener` whenever the pub/sub connection is back after a loss (messages published meanwhile were lost). */
  onSubscriptionGap(listener: () => void): () => void {
    return this.#connections.subscriber.onGap(listener);
  }

  /** Publishes `message` on `channel`; returns how many subscribers received it. */
  async publish(channel: string, message: string | Buffer): Promise<number> {
    return (await this.command(['PUBLISH', channel, message])) as number;
  }

  health(): Promise<HealthStatus> {
    return this.#core.health();
  }

  metrics(): DatabaseMetrics {
    return this.#core.metrics();
  }

  #requireClient(): Redis {
    const client = this.#connections.client;
    if (!this.#core.connected || !client) throw this.#core.notConnectedError();
    return client;
  }

  #noSql(method: string): CapabilityError {
    return new CapabilityError(this.id, `SQL (${method})`, 'Redis takes commands, not SQL', 'Use command("GET user:123") on the adapter, or dataManager.queryDatabase(id, "GET user:123")');
  }

  #mapError(error: unknown, phase: RedisErrorPhase): DatakeepError {
    return mapRedisError(this.id, error, phase, { connect: this.#config.timeout, command: this.#config.statementTimeout });
  }
}
