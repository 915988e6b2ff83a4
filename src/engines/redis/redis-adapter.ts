import { AdapterLifecycle } from '../../adapters/adapter-lifecycle.js';
import { Redis, type RedisOptions } from 'ioredis';
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
import { DedicatedConnectionPool } from './dedicated-connection-pool.js';
import { mapRedisError, redisErrorPrefix, type RedisErrorPhase } from './map-redis-error.js';
import { parseRedisInfo, parseRedisReplicas } from './parse-redis-info.js';
import { checkRedisConfig, redisClientOptions, type RedisSentinelSettings } from './redis-client-options.js';
import { toRedisArguments, type RedisCommand } from './redis-command.js';
import { RedisSubscriber, type RedisMessageHandler } from './redis-subscriber.js';
import type { RedisTransactionContext, RedisWatchContext, RedisWatchOptions, RedisWatchResult } from './redis-transaction-context.js';
import type { RedisArgument } from './split-command-line.js';

const CAPABILITIES: AdapterCapabilities = Object.freeze({
  sql: false,
  transactions: true,
  savepoints: false,
  isolationLevels: Object.freeze([]),
  readOnlyTransactions: false,
  transactionalDdl: false,
  twoPhase: 'one-phase',
  physicalBackup: false,
  pointInTimeRecovery: false,
  replicationControl: false,
});

type Args = [string, ...RedisArgument[]];

/** See #send: 1 = every command is timed. */
const LATENCY_SAMPLE_EVERY = 4;

/**
 * Redis on ioredis: one multiplexed connection for commands, pipelines and MULTI/EXEC; a small pool of dedicated
 * connections for WATCH (whose state lives on a connection); one more for pub/sub. Standalone or Sentinel mode.
 * See docs/redis.md for the decisions (why ioredis, reconnect rules, transaction semantics).
 */
export class RedisAdapter implements DatabaseAdapter {
  readonly id: string;
  readonly type = 'redis';
  readonly capabilities = CAPABILITIES;

  readonly #config: ResolvedDatabaseConfig;
  readonly #logger: Logger;
  readonly #sentinel: RedisSentinelSettings | undefined;
  readonly #options: RedisOptions;
  readonly #counters = new AdapterCounters();
  readonly #breaker: CircuitBreaker;
  readonly #dedicated: DedicatedConnectionPool;
  readonly #subscriber: RedisSubscriber;
  #client: Redis | undefined;
  /** True once the first connection succeeded: from then on ioredis reconnects by itself. */
  #established = false;
  #setupErrors: Error[] = [];
  #revive: NodeJS.Timeout | undefined;
  #lastWarning = 0;
  #tick = LATENCY_SAMPLE_EVERY - 1;
  readonly #lifecycle: AdapterLifecycle;

  constructor(config: ResolvedDatabaseConfig, deps: AdapterDependencies) {
    this.id = config.id;
    this.#lifecycle = new AdapterLifecycle(config.id, () => this.#open(), () => this.#shutdown());
    this.#config = config;
    this.#logger = deps.logger;
    this.#sentinel = checkRedisConfig(config);
    this.#options = redisClientOptions(config, this.#sentinel);
    this.#breaker = new CircuitBreaker(config.id, config.circuitBreaker.failureThreshold, config.circuitBreaker.resetTimeout);
    this.#dedicated = new DedicatedConnectionPool(config.poolSize, () => this.#openDedicated({ failoverDetector: false }));
    this.#subscriber = new RedisSubscriber(config.id, () => this.#openDedicated({ persistent: true }), deps.logger);
  }

  /** True when the adapter talks to Sentinels to find the master. */
  get sentinelMode(): boolean {
    return this.#sentinel !== undefined;
  }

  connect(): Promise<void> {
    return this.#lifecycle.connect();
  }

  close(): Promise<void> {
    return this.#lifecycle.close();
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Commands

  /**
   * Runs one command: a redis-cli style line (`'GET user:123'`, quotes and escapes as redis-cli reads them) or an
   * array (`['HSET', 'k', 'f', 'v']`); `params` are appended as further arguments. Returns the reply as a plain value
   * (string, number, array, null). An error reply is a QueryError whose `sqlState` is its code word (`WRONGTYPE`).
   */
  command(command: RedisCommand, params?: readonly unknown[]): Promise<unknown> {
    const client = this.#client;
    if (!this.#lifecycle.connected || !client) return Promise.reject(this.#lifecycleError());
    let args: Args;
    try {
      args = toRedisArguments(command, params) as Args;
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#send(client, args);
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
    const list = this.#argumentsList(commands);
    const results = await this.#batch(client, list, false);
    return results ?? [];
  }

  /**
   * Runs the commands atomically (MULTI ... EXEC in one round trip) and returns EXEC's replies; a command that
   * failed at run time (e.g. WRONGTYPE) is a QueryError value at its position while the others were applied
   * (Redis does not roll back). A command refused at queue time discards the whole block: a QueryError EXECABORT.
   */
  async multi(commands: readonly RedisCommand[]): Promise<unknown[]> {
    const client = this.#requireClient();
    const results = await this.#batch(client, this.#argumentsList(commands), true);
    if (results === null) throw new TransactionError(this.id, 'EXEC was aborted by a WATCH on the shared connection; use watch() for optimistic transactions');
    return results;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Transactions

  /**
   * Runs `fn` with a context whose `queue()` collects commands; after `fn` returns they run as one MULTI/EXEC block
   * and `fn`'s result is returned. If `fn` throws, nothing was sent. A command failing inside EXEC is a
   * TransactionError (the other commands were applied: Redis has no rollback). Isolation levels, read-only mode,
   * savepoints and nesting are CapabilityErrors. See RedisTransactionContext.
   */
  async transaction<T>(fn: (tx: TransactionContext) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    if (typeof fn !== 'function') throw new UsageError('fn', 'expected a function (tx) => Promise<result>');
    if (options.isolationLevel !== undefined) {
      throw new CapabilityError(this.id, `isolation level "${options.isolationLevel}"`, 'Redis MULTI/EXEC has no isolation levels (a MULTI block runs alone, like serializable, but cannot read inside)', 'Drop isolationLevel; use watch(keys, fn) to read and then write atomically');
    }
    if (options.readOnly) {
      throw new CapabilityError(this.id, 'read-only transactions', 'MULTI/EXEC cannot refuse writes', 'Drop readOnly, or connect with an ACL user that may only run read commands');
    }
    if (options.maxAttempts !== undefined && (!Number.isInteger(options.maxAttempts) || options.maxAttempts < 1)) {
      throw new UsageError('options.maxAttempts', 'must be an integer >= 1');
    }
    const client = this.#requireClient();
    const queued: Args[] = [];
    const state = { closed: false };
    let result: T;
    try {
      result = await fn(this.#transactionContext(queued, state));
    } catch (error) {
      this.#counters.rolledBack += 1;
      throw error;
    } finally {
      state.closed = true;
    }
    if (queued.length === 0) {
      this.#counters.committed += 1;
      return result;
    }
    let replies: unknown[] | null;
    try {
      replies = await this.#batch(client, queued, true);
    } catch (error) {
      this.#counters.rolledBack += 1;
      throw error;
    }
    this.#counters.committed += 1;
    this.#throwIfPartial(replies ?? [], queued);
    return result;
  }

  /**
   * Optimistic transaction: on a dedicated connection, WATCHes `keys`, runs `fn` (which reads with `ctx.command()`
   * and queues writes with `ctx.queue()`), then EXECs the queued writes. When a watched key changed in between, EXEC
   * aborts and `fn` runs again, up to `maxAttempts` (default 10); then a TransactionError carries the attempt count.
   * `fn` must therefore be safe to re-run. Returns `fn`'s value from the attempt that committed, EXEC's replies and
   * the attempts made.
   */
  async watch<T>(keys: readonly string[], fn: (ctx: RedisWatchContext) => Promise<T>, options: RedisWatchOptions = {}): Promise<RedisWatchResult<T>> {
    if (!Array.isArray(keys) || keys.length === 0 || keys.some((k) => typeof k !== 'string' || k === '')) {
      throw new UsageError('keys', 'expected a non-empty array of key names (non-empty strings) to WATCH');
    }
    if (typeof fn !== 'function') throw new UsageError('fn', 'expected a function (ctx) => Promise<result>');
    const maxAttempts = options.maxAttempts ?? 10;
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new UsageError('options.maxAttempts', 'must be an integer >= 1');
    this.#requireClient();
    const connection = await this.#acquireDedicated();
    let broken = false;
    try {
      for (let attempt = 1; ; attempt += 1) {
        await this.#send(connection, ['WATCH', ...keys]);
        const queued: Args[] = [];
        const state = { closed: false };
        let value: T;
        try {
          value = await fn(this.#watchContext(connection, attempt, queued, state));
        } catch (error) {
          this.#counters.rolledBack += 1;
          await connection.call('UNWATCH').catch(() => {
            broken = true;
          });
          throw error;
        } finally {
          state.closed = true;
        }
        if (queued.length === 0) {
          await this.#send(connection, ['UNWATCH']);
          this.#counters.committed += 1;
          return { value, replies: [], attempts: attempt };
        }
        const replies = await this.#batch(connection, queued, true);
        if (replies === null) {
          if (attempt >= maxAttempts) {
            this.#counters.rolledBack += 1;
            throw new TransactionError(this.id, `EXEC aborted ${attempt} times because a watched key (${keys.join(', ')}) changed each time; raise options.maxAttempts or reduce contention on these keys`, { attempts: attempt });
          }
          this.#counters.retried += 1;
          // A short random pause keeps two contending callers from colliding in lock step.
          await sleep(fullJitterDelay(attempt, 2, 100));
          continue;
        }
        this.#counters.committed += 1;
        this.#throwIfPartial(replies, queued);
        return { value, replies, attempts: attempt };
      }
    } catch (error) {
      if (error instanceof ConnectionError || error instanceof TimeoutError) broken = true;
      throw error;
    } finally {
      this.#dedicated.release(connection, broken);
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Pub/sub

  /**
   * Subscribes `handler` to `channel` on the adapter's pub/sub connection (opened on first use, closed by close()).
   * Resolves once the server confirmed the subscription, with a function that removes this handler.
   */
  async subscribe(channel: string, handler: RedisMessageHandler): Promise<() => Promise<void>> {
    if (typeof channel !== 'string' || channel === '') throw new UsageError('channel', 'expected a non-empty channel name');
    if (typeof handler !== 'function') throw new UsageError('handler', 'expected a function (message, channel) => void');
    this.#requireClient();
    try {
      return await this.#subscriber.subscribe(channel, handler);
    } catch (error) {
      throw this.#mapError(error, 'command');
    }
  }

  /** Publishes `message` on `channel`; returns how many subscribers received it. */
  async publish(channel: string, message: string | Buffer): Promise<number> {
    return (await this.command(['PUBLISH', channel, message])) as number;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Health and metrics

  async health(): Promise<HealthStatus> {
    const checkedAt = new Date();
    const started = performance.now();
    const base = { adapterId: this.id, type: this.type, checkedAt };
    const pool = () => {
      const m = this.#connectionStats();
      return { total: m.total, idle: m.idle, waiting: m.waiting };
    };
    try {
      const client = this.#requireClient();
      const { latency, info } = await this.#withTimeout(this.#probe(client), 'health probe');
      const role = info.get('role') === 'slave' ? 'replica' : (info.get('role') ?? 'unknown');
      const reasons: string[] = [];
      if (latency > 1000) reasons.push(`PING took ${Math.round(latency)} ms`);
      if (info.get('loading') === '1') reasons.push('the server is loading its dataset');
      if (role === 'replica' && info.get('master_link_status') !== 'up') reasons.push(`replica's link to its master is ${info.get('master_link_status') ?? 'unknown'}`);
      if (this.#sentinel && role !== 'master') reasons.push(`Sentinel mode expects the master but the connection reached a ${role}`);
      const usedMemory = Number(info.get('used_memory') ?? 0);
      const maxMemory = Number(info.get('maxmemory') ?? 0);
      if (maxMemory > 0 && usedMemory / maxMemory > 0.9) reasons.push(`memory at ${Math.round((100 * usedMemory) / maxMemory)}% of maxmemory`);
      const replicas = parseRedisReplicas(info);
      for (const r of replicas) if (r.state !== 'online') reasons.push(`replica ${r.address} is ${r.state}`);
      const stats = this.#connectionStats();
      if (stats.waiting > 0) reasons.push(`${stats.waiting} callers waiting for a dedicated connection (pool of ${this.#config.poolSize} exhausted)`);
      const details: Record<string, unknown> = {
        mode: this.#sentinel ? 'sentinel' : 'standalone',
        role,
        connectedClients: Number(info.get('connected_clients') ?? 0),
        blockedClients: Number(info.get('blocked_clients') ?? 0),
        usedMemory,
        maxMemory,
        masterReplOffset: Number(info.get('master_repl_offset') ?? 0),
      };
      if (this.#sentinel) details.masterName = this.#sentinel.masterName;
      if (role === 'master') details.replicas = replicas;
      if (role === 'replica') {
        details.masterLinkStatus = info.get('master_link_status');
        details.replicaReplOffset = Number(info.get('slave_repl_offset') ?? 0);
        // A replica knows when it last heard from its master, not the master's offset: seconds are its lag measure.
        details.replicationLagSeconds = Number(info.get('master_last_io_seconds_ago') ?? -1);
      }
      return {
        ...base,
        status: reasons.length ? 'degraded' : 'healthy',
        latency,
        reasons,
        serverVersion: info.get('redis_version'),
        inRecovery: role === 'replica',
        pool: pool(),
        details,
      };
    } catch (error) {
      const latency = round2(performance.now() - started);
      const err = this.#mapError(error, 'command');
      return { ...base, latency, status: 'unhealthy', reasons: [err.message], error: { code: err.code, message: err.message }, pool: pool() };
    }
  }

  metrics(): DatabaseMetrics {
    const c = this.#counters;
    return {
      adapterId: this.id,
      type: this.type,
      queries: { total: c.queriesTotal, failed: c.queriesFailed, latency: c.latency.summary() },
      transactions: { committed: c.committed, rolledBack: c.rolledBack, retried: c.retried },
      connections: { ...this.#connectionStats(), failedAttempts: c.failedConnectAttempts },
      circuit: { state: this.#breaker.state, opened: this.#breaker.timesOpened },
    };
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Internals

  /**
   * The hot path: one command on one connection, through the circuit breaker, counted in metrics. Written with
   * `then` rather than async/await: one promise fewer per command, which the overhead benchmark can see.
   */
  #send(connection: Redis, args: Args): Promise<unknown> {
    try {
      this.#breaker.beforeAttempt();
    } catch (error) {
      return Promise.reject(error);
    }
    // Counts are exact; latency is sampled on every LATENCY_SAMPLE_EVERY-th command, because two clock reads cost
    // about a third of the adapter's own time per command and a sample of that size gives the same percentiles.
    const timed = (this.#tick = (this.#tick + 1) % LATENCY_SAMPLE_EVERY) === 0;
    const started = timed ? performance.now() : 0;
    const c = this.#counters;
    return connection.call(...args).then(
      (reply) => {
        c.queriesTotal += 1;
        if (timed) c.latency.record(performance.now() - started);
        this.#breaker.onSuccess();
        return reply;
      },
      (raw: unknown) => {
        c.queriesTotal += 1;
        c.queriesFailed += 1;
        if (timed) c.latency.record(performance.now() - started);
        throw this.#commandFailure(raw);
      },
    );
  }

  /** Maps a failed command's error; only a connection failure counts against the circuit (the server was reached otherwise). */
  #commandFailure(raw: unknown): DatakeepError {
    const error = this.#mapError(raw, 'command');
    if (error instanceof ConnectionError) this.#breaker.onFailure(error);
    else this.#breaker.onSuccess();
    return error;
  }

  /** A pipeline or a MULTI/EXEC block; null when EXEC aborted (a watched key changed). */
  async #batch(connection: Redis, list: readonly Args[], atomic: boolean): Promise<unknown[] | null> {
    this.#breaker.beforeAttempt();
    const started = performance.now();
    const c = this.#counters;
    let results: [Error | null, unknown][] | null;
    try {
      const batch = atomic ? connection.multi() : connection.pipeline();
      for (const args of list) batch.call(...args);
      results = await batch.exec();
    } catch (raw) {
      c.queriesTotal += list.length - 1;
      c.queriesFailed += list.length - 1;
      c.recordQuery(started, true);
      throw this.#commandFailure(raw);
    }
    // One latency sample per round trip; every command counts as a query.
    c.latency.record(performance.now() - started);
    c.queriesTotal += list.length;
    if (results === null) return null;
    const replies = new Array<unknown>(results.length);
    let connectionFailure: DatakeepError | undefined;
    for (let i = 0; i < results.length; i += 1) {
      const [err, value] = results[i]!;
      if (err) {
        c.queriesFailed += 1;
        const mapped = this.#mapError(err, 'command');
        if (mapped instanceof ConnectionError) connectionFailure = mapped;
        replies[i] = mapped;
      } else {
        replies[i] = value;
      }
    }
    if (connectionFailure) {
      this.#breaker.onFailure(connectionFailure);
      throw connectionFailure;
    }
    this.#breaker.onSuccess();
    return replies;
  }

  #throwIfPartial(replies: readonly unknown[], queued: readonly Args[]): void {
    const failed = replies.findIndex((r) => r instanceof QueryError);
    if (failed < 0) return;
    const error = replies[failed] as QueryError;
    throw new TransactionError(
      this.id,
      `command ${failed + 1} of ${queued.length} (${queued[failed]![0]}) failed inside EXEC: ${error.message}; the other commands were applied (Redis does not roll back a MULTI block)`,
      { cause: error },
    );
  }

  #argumentsList(commands: readonly RedisCommand[]): Args[] {
    if (!Array.isArray(commands) || commands.length === 0) {
      throw new UsageError('commands', 'expected a non-empty array of commands, e.g. [["SET", "k", "v"], "GET k"]');
    }
    return commands.map((command, i) => {
      try {
        return toRedisArguments(command as RedisCommand, undefined) as Args;
      } catch (error) {
        if (error instanceof UsageError) throw new UsageError(`commands[${i}]`, error.message);
        throw error;
      }
    });
  }

  #transactionContext(queued: Args[], state: { closed: boolean }): RedisTransactionContext {
    const ensureOpen = () => {
      if (state.closed) throw new TransactionError(this.id, 'the transaction has already ended; queue commands inside the callback');
    };
    const noSavepoints = () =>
      Promise.reject(new CapabilityError(this.id, 'savepoints', 'Redis MULTI/EXEC has neither savepoints nor rollback', 'Queue only the commands that must apply together, and use watch() to re-run on conflicts'));
    const noSql = () => Promise.reject(new CapabilityError(this.id, 'SQL in a transaction', 'Redis takes commands, not SQL', 'Queue commands with tx.queue(["SET", key, value])'));
    return {
      adapterId: this.id,
      depth: 1,
      queue: (command: RedisCommand, params?: readonly unknown[]) => {
        ensureOpen();
        // A copy: the caller may reuse its array before EXEC.
        queued.push([...toRedisArguments(command, params)] as Args);
        return queued.length - 1;
      },
      get queued() {
        return queued.length;
      },
      query: noSql,
      execute: noSql,
      script: noSql,
      savepoint: noSavepoints,
      rollbackTo: noSavepoints,
      release: noSavepoints,
      transaction: () =>
        Promise.reject(new CapabilityError(this.id, 'nested transactions', 'Redis has no savepoints to nest a MULTI block in', 'Queue the commands in the outer transaction')),
    };
  }

  #watchContext(connection: Redis, attempt: number, queued: Args[], state: { closed: boolean }): RedisWatchContext {
    const ensureOpen = () => {
      if (state.closed) throw new TransactionError(this.id, 'this watch() attempt has ended; run commands inside the callback and await them');
    };
    return {
      adapterId: this.id,
      attempt,
      command: async (command: RedisCommand, params?: readonly unknown[]) => {
        ensureOpen();
        return this.#send(connection, toRedisArguments(command, params) as Args);
      },
      queue: (command: RedisCommand, params?: readonly unknown[]) => {
        ensureOpen();
        // A copy: the caller may reuse its array before EXEC.
        queued.push([...toRedisArguments(command, params)] as Args);
        return queued.length - 1;
      },
    };
  }

  async #open(): Promise<void> {
    const client = new Redis({
      ...this.#options,
      // Until the first connection succeeds, connect() retries itself (with the circuit breaker and typed errors);
      // afterwards ioredis reconnects on its own, with capped exponential backoff and jitter.
      retryStrategy: (times) => (this.#established ? reconnectDelay(times) : null),
      // A demoted master answers writes with READONLY: in Sentinel mode reconnect (which asks the Sentinels for the
      // current master) and resend the command. In standalone mode there is nowhere else to go, so it is an error.
      reconnectOnError: this.#sentinel ? (error) => (redisErrorPrefix(error) === 'READONLY' ? 2 : false) : null,
    });
    client.on('error', (error: Error) => this.#onClientError(error));
    client.on('reconnecting', () => {
      this.#counters.failedConnectAttempts += 1;
    });
    client.on('end', () => this.#onEnd(client));
    this.#client = client;
    const retries = this.#config.retryAttempts;
    for (let attempt = 0; ; attempt += 1) {
      let error: DatakeepError;
      try {
        this.#breaker.beforeAttempt();
        await this.#connectOnce(client);
        this.#breaker.onSuccess();
        this.#established = true;
        return;
      } catch (raw) {
        error = this.#mapError(raw, 'connect');
        if (!(error instanceof LifecycleError) && error.code !== 'DK_CIRCUIT_OPEN') {
          this.#counters.failedConnectAttempts += 1;
          this.#breaker.onFailure(error);
        }
      }
      const retriable = (error instanceof ConnectionError && error.retriable) || (error instanceof TimeoutError && error.kind === 'connect');
      if (!retriable || attempt >= retries) {
        this.#client = undefined;
        client.disconnect();
        throw error;
      }
      const delay = fullJitterDelay(attempt + 1);
      this.#logger.log('warn', 'connection attempt failed; retrying', { adapter: this.id, attempt: attempt + 1, delayMs: delay, error: error.message });
      await sleep(delay);
    }
  }

  /**
   * One connection attempt. ioredis reports the cause (refused, WRONGPASS) as an 'error' event and rejects connect()
   * with a generic "Connection is closed", so the event is what gets mapped. A rejected SELECT (db index out of
   * range) only shows as an event while the connection stays up; a PING after connecting drains the setup replies
   * so that such a failure is caught here rather than leaving the adapter on the wrong database.
   */
  async #connectOnce(connection: Redis, setupErrors: Error[] = (this.#setupErrors = [])): Promise<void> {
    try {
      await connection.connect();
      await connection.call('PING');
    } catch (error) {
      throw setupErrors.find((e) => redisErrorPrefix(e) !== undefined) ?? setupErrors.at(-1) ?? error;
    }
    const refused = setupErrors.find((e) => redisErrorPrefix(e) !== undefined);
    if (refused) {
      connection.disconnect();
      throw new ConnectionError(
        this.id,
        `the server refused the connection setup (${refused.message}); check database (a db index below the server's "databases" setting), username, password and applicationName`,
        { cause: refused, retriable: false },
      );
    }
  }

  /** Opens a dedicated connection (WATCH, pub/sub) with the adapter's settings, through the circuit breaker. */
  async #openDedicated(overrides: { persistent?: boolean; failoverDetector?: boolean }): Promise<Redis> {
    const errors: Error[] = [];
    const connection = new Redis({
      ...this.#options,
      failoverDetector: overrides.failoverDetector ?? this.#options.failoverDetector,
      // WATCH state dies with its connection, so a dedicated WATCH connection never reconnects: it is replaced. The
      // pub/sub connection does reconnect, and ioredis re-subscribes its channels.
      retryStrategy: overrides.persistent ? (times) => reconnectDelay(times) : () => null,
      enableOfflineQueue: overrides.persistent ?? false,
    });
    connection.on('error', (error: Error) => {
      if (connection.status !== 'ready') errors.push(error);
      this.#onClientError(error);
    });
    this.#breaker.beforeAttempt();
    try {
      await this.#connectOnce(connection, errors);
      this.#breaker.onSuccess();
      return connection;
    } catch (raw) {
      connection.disconnect();
      const error = this.#mapError(raw, 'connect');
      this.#counters.failedConnectAttempts += 1;
      this.#breaker.onFailure(error);
      throw error;
    }
  }

  async #acquireDedicated(): Promise<Redis> {
    return this.#dedicated.acquire();
  }

  async #probe(client: Redis): Promise<{ latency: number; info: Map<string, string> }> {
    const started = performance.now();
    await client.call('PING');
    const latency = round2(performance.now() - started);
    const info = parseRedisInfo(String(await client.call('INFO')));
    return { latency, info };
  }

  /** Bounds a probe by the connect timeout, so that health() answers even when the server hangs. */
  async #withTimeout<T>(work: Promise<T>, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TimeoutError('operation', `${this.id}: ${what} got no reply within ${this.#config.timeout} ms`, { timeoutMs: this.#config.timeout })), this.#config.timeout);
    });
    try {
      return await Promise.race([work, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  #onClientError(error: Error): void {
    if (!this.#established) {
      this.#setupErrors.push(error);
      return;
    }
    // During an outage ioredis reports every reconnect attempt; one warning per 10 s is enough to see it in logs.
    const now = Date.now();
    if (now - this.#lastWarning > 10_000) {
      this.#lastWarning = now;
      this.#logger.log('warn', 'redis connection error; reconnecting', { adapter: this.id, error: error.message });
    }
  }

  /**
   * ioredis gives up on a connection when its connector fails outright (in Sentinel mode: no Sentinel answered), and
   * then never retries. Commands meanwhile fail at once with a ConnectionError; this restarts the attempts.
   */
  #onEnd(client: Redis): void {
    if (!this.#established || this.#lifecycle.closed || client !== this.#client) return;
    clearTimeout(this.#revive);
    this.#revive = setTimeout(() => {
      this.#revive = undefined;
      if (!this.#lifecycle.closed && client.status === 'end') client.connect().catch(() => undefined);
    }, 1000);
  }

  async #shutdown(): Promise<void> {
    this.#established = false;
    clearTimeout(this.#revive);
    const client = this.#client;
    this.#client = undefined;
    await Promise.all([this.#subscriber.close(), this.#dedicated.close()]);
    if (!client) return;
    if (client.status !== 'ready') {
      client.disconnect();
      return;
    }
    // QUIT lets replies already on their way arrive; bounded so that close() cannot hang on a stalled server.
    try {
      await this.#withTimeout(client.quit(), 'QUIT');
    } catch {
      // the connection is dropped below either way
    } finally {
      client.disconnect();
    }
  }

  #connectionStats(): { active: number; idle: number; waiting: number; total: number; max: number } {
    const client = this.#client;
    const main = client?.status === 'ready' ? 1 : 0;
    const mainActive = main && client!.commandQueue.length > 0 ? 1 : 0;
    const sub = this.#subscriber.connected ? 1 : 0;
    const d = this.#dedicated.stats;
    return {
      active: mainActive + sub + d.active,
      idle: main - mainActive + d.idle,
      waiting: d.waiting,
      total: main + sub + d.active + d.idle,
      // the command connection, the pub/sub connection and the dedicated pool
      max: this.#config.poolSize + 2,
    };
  }

  #requireClient(): Redis {
    const client = this.#client;
    if (!this.#lifecycle.connected || !client) throw this.#lifecycleError();
    return client;
  }

  #lifecycleError(): LifecycleError {
    return new LifecycleError(this.#lifecycle.closed ? `${this.id}: the adapter is closed` : `${this.id}: call connect() (or DataManager.initialize()) first`);
  }

  #noSql(method: string): CapabilityError {
    return new CapabilityError(this.id, `SQL (${method})`, 'Redis takes commands, not SQL', 'Use command("GET user:123") on the adapter, or dataManager.queryDatabase(id, "GET user:123")');
  }

  #mapError(error: unknown, phase: RedisErrorPhase): DatakeepError {
    return mapRedisError(this.id, error, phase, { connect: this.#config.timeout, command: this.#config.statementTimeout });
  }
}

/** Capped exponential backoff with equal jitter: never 0 (no reconnect storm), never above ~2 s. */
function reconnectDelay(times: number): number {
  const cap = Math.min(2000, 50 * 2 ** Math.min(times, 10));
  return Math.floor(cap / 2 + Math.random() * (cap / 2));
}

function round2(ms: number): number {
  return Math.round(ms * 100) / 100;
}
