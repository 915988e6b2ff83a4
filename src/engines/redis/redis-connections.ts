import { Redis, type RedisOptions } from 'ioredis';
import type { AdapterCore } from '../../adapters/adapter-core.js';
import type { ConnectionStats } from '../../adapters/adapter-hooks.js';
import { ConnectionError, TimeoutError } from '../../errors/index.js';
import { withTimeout } from '../../resilience/with-timeout.js';
import type { Logger } from '../../util/logger.js';
import { DedicatedConnectionPool } from './dedicated-connection-pool.js';
import { redisErrorPrefix } from './map-redis-error.js';
import type { RedisSentinelSettings } from './redis-client-options.js';
import { RedisSubscriber } from './redis-subscriber.js';
import { routeSentinelErrors } from './route-sentinel-errors.js';

/** During an outage ioredis reports every reconnect attempt; one warning per 10 s is enough to see it in logs. */
const WARN_EVERY_MS = 10_000;

export interface RedisConnectionSettings {
  readonly id: string;
  readonly poolSize: number;
  /** Bounds QUIT at close. */
  readonly timeoutMs: number;
  readonly options: RedisOptions;
  /** The password of now (a rotated passwordFile's), read for every connection; `options.password` is not used. */
  readonly password: () => string | undefined;
  readonly sentinel: RedisSentinelSettings | undefined;
  readonly logger: Logger;
}

/**
 * The connections of one Redis adapter: the multiplexed command connection, a small pool of dedicated connections
 * for WATCH (whose state lives on a connection), and one for pub/sub. Attempts go through the adapter core (circuit
 * breaker, retries on connect); every ioredis 'error' event, the Sentinels' included, reaches the logger.
 */
export class RedisConnections {
  readonly dedicated: DedicatedConnectionPool;
  readonly subscriber: RedisSubscriber;
  #client: Redis | undefined;
  /** True once the first connection succeeded: from then on ioredis reconnects by itself. */
  #established = false;
  #setupErrors: Error[] = [];
  #revive: NodeJS.Timeout | undefined;
  readonly #lastWarning = { connection: 0, sentinel: 0 };
  /** Every client not yet ended, so that a password change reaches their reconnects. */
  readonly #live = new Set<Redis>();

  constructor(
    private readonly settings: RedisConnectionSettings,
    private readonly core: AdapterCore,
  ) {
    this.dedicated = new DedicatedConnectionPool(settings.poolSize, () => this.#openDedicated({ failoverDetector: false }));
    this.subscriber = new RedisSubscriber(settings.id, () => this.#openDedicated({ persistent: true }), settings.logger);
  }

  /** The command connection once open() succeeded, until shutdown(). */
  get client(): Redis | undefined {
    return this.#client;
  }

  async open(): Promise<void> {
    const { options, sentinel } = this.settings;
    const client = this.#create({
      ...options,
      // Until the first connection succeeds, connect() retries itself (with the circuit breaker and typed errors);
      // afterwards ioredis reconnects on its own, with capped exponential backoff and jitter.
      retryStrategy: (times) => (this.#established ? reconnectDelay(times) : null),
      // A demoted master answers writes with READONLY: in Sentinel mode reconnect (which asks the Sentinels for the
      // current master) and resend the command. In standalone mode there is nowhere else to go, so it is an error.
      reconnectOnError: sentinel ? (error) => (redisErrorPrefix(error) === 'READONLY' ? 2 : false) : null,
    });
    client.on('error', (error: Error) => this.#onClientError(error));
    client.on('reconnecting', () => {
      this.core.instruments.failedConnectAttempts += 1;
    });
    client.on('end', () => this.#onEnd(client));
    // After a failover ioredis reaches the new master by itself: commands must not wait out an open circuit.
    client.on('ready', () => {
      if (this.#established) this.core.breaker.reconnected();
    });
    this.#client = client;
    try {
      await this.core.connectRetrying(() => this.#connectOnce(client));
    } catch (error) {
      this.#client = undefined;
      client.disconnect();
      throw error;
    }
    this.#established = true;
  }

  async shutdown(): Promise<void> {
    this.#established = false;
    clearTimeout(this.#revive);
    const client = this.#client;
    this.#client = undefined;
    await Promise.all([this.subscriber.close(), this.dedicated.close()]);
    if (!client) return;
    if (client.status !== 'ready') {
      client.disconnect();
      return;
    }
    // QUIT lets replies already on their way arrive; bounded so that close() cannot hang on a stalled server.
    const { id, timeoutMs } = this.settings;
    try {
      await withTimeout(() => client.quit(), timeoutMs, () => new TimeoutError('operation', `${id}: QUIT got no reply within ${timeoutMs} ms`, { timeoutMs }));
    } catch {
      // the connection is dropped below either way
    } finally {
      client.disconnect();
    }
  }

  stats(): ConnectionStats {
    const client = this.#client;
    const main = client?.status === 'ready' ? 1 : 0;
    const mainActive = main && client!.commandQueue.length > 0 ? 1 : 0;
    const sub = this.subscriber.connected ? 1 : 0;
    const d = this.dedicated.stats;
    return {
      active: mainActive + sub + d.active,
      idle: main - mainActive + d.idle,
      waiting: d.waiting,
      total: main + sub + d.active + d.idle,
      // the command connection, the pub/sub connection and the dedicated pool
      max: this.settings.poolSize + 2,
    };
  }

  /**
   * The password changed: every connection made from now on, and every reconnect of a persistent one (ioredis reads
   * `options.password` at each connect), uses the new one. The command connection re-authenticates at once with AUTH,
   * between the commands already queued on it, so nothing in flight fails; idle dedicated connections close and ones
   * in use close when released. The pub/sub connection keeps its session (RESP2 allows no AUTH while subscribed)
   * until its next reconnect.
   */
  async rotatePassword(): Promise<void> {
    const password = this.settings.password();
    for (const client of this.#live) client.options.password = password;
    this.dedicated.retire();
    const client = this.#client;
    if (client?.status !== 'ready' || password === undefined) return;
    const { id, timeoutMs } = this.settings;
    // As ioredis' own AUTH at connect: the username only when one is set (its default is null, not undefined).
    const username = client.options.username;
    const args = username ? [username, password] : [password];
    await withTimeout(() => client.call('AUTH', ...args), timeoutMs, () => new TimeoutError('operation', `${id}: AUTH got no reply within ${timeoutMs} ms`, { timeoutMs }));
  }

  /** A client with the adapter's settings whose Sentinel connections (if any) report their errors to the logger. */
  #create(options: RedisOptions): Redis {
    const client = new Redis({ ...options, password: this.settings.password() });
    this.#live.add(client);
    client.once('end', () => this.#live.delete(client));
    routeSentinelErrors(client, (error) => this.#warn('sentinel', 'redis sentinel connection error', error));
    return client;
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
        this.settings.id,
        `the server refused the connection setup (${refused.message}); check database (a db index below the server's "databases" setting), username, password and applicationName`,
        { cause: refused, retriable: false },
      );
    }
  }

  /** Opens a dedicated connection (WATCH, pub/sub) with the adapter's settings, one attempt through the breaker. */
  async #openDedicated(overrides: { persistent?: boolean; failoverDetector?: boolean }): Promise<Redis> {
    const { options } = this.settings;
    const errors: Error[] = [];
    const connection = this.#create({
      ...options,
      failoverDetector: overrides.failoverDetector ?? options.failoverDetector,
      // WATCH state dies with its connection, so a dedicated WATCH connection never reconnects: it is replaced. The
      // pub/sub connection does reconnect, and ioredis re-subscribes its channels.
      retryStrategy: overrides.persistent ? (times) => reconnectDelay(times) : () => null,
      enableOfflineQueue: overrides.persistent ?? false,
    });
    connection.on('error', (error: Error) => {
      if (connection.status !== 'ready') errors.push(error);
      this.#onClientError(error);
    });
    try {
      await this.core.attempt(() => this.#connectOnce(connection, errors));
      return connection;
    } catch (error) {
      connection.disconnect();
      throw error;
    }
  }

  #onClientError(error: Error): void {
    if (!this.#established) {
      this.#setupErrors.push(error);
      return;
    }
    this.#warn('connection', 'redis connection error; reconnecting', error);
  }

  #warn(kind: 'connection' | 'sentinel', message: string, error: Error): void {
    const now = Date.now();
    if (now - this.#lastWarning[kind] <= WARN_EVERY_MS) return;
    this.#lastWarning[kind] = now;
    this.settings.logger.log('warn', message, { adapter: this.settings.id, error: error.message });
  }

  /**
   * ioredis gives up on a connection when its connector fails outright (in Sentinel mode: no Sentinel answered), and
   * then never retries. Commands meanwhile fail at once with a ConnectionError; this restarts the attempts.
   */
  #onEnd(client: Redis): void {
    if (!this.#established || this.core.closed || client !== this.#client) return;
    clearTimeout(this.#revive);
    this.#revive = setTimeout(() => {
      this.#revive = undefined;
      if (!this.core.closed && client.status === 'end') client.connect().catch(() => undefined);
    }, 1000);
  }
}

/** Capped exponential backoff with equal jitter: never 0 (no reconnect storm), never above ~2 s. */
function reconnectDelay(times: number): number {
  const cap = Math.min(2000, 50 * 2 ** Math.min(times, 10));
  return Math.floor(cap / 2 + Math.random() * (cap / 2));
}
