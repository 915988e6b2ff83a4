import type { ResolvedDatabaseConfig } from '../config/database-config.js';
import { DatakeepError, LifecycleError } from '../errors/index.js';
import { AdapterInstruments } from '../metrics/adapter-instruments.js';
import type { MetricsRegistry } from '../metrics/metrics-registry.js';
import { CircuitBreaker } from '../resilience/circuit-breaker.js';
import { ConnectRetry } from '../resilience/connect-retry.js';
import type { Logger } from '../util/logger.js';
import { probeHealth } from './adapter-health.js';
import type { AdapterHooks } from './adapter-hooks.js';
import { AdapterLifecycle } from './adapter-lifecycle.js';
import { CredentialRotation } from './credential-rotation.js';
import type { DatabaseMetrics } from './database-metrics.js';
import type { HealthStatus } from './health-status.js';

/** What an adapter receives besides its configuration. */
export interface AdapterContext {
  readonly logger: Logger;
  /** The DataManager's metrics; without it (an adapter built alone) the instruments are the adapter's own. */
  readonly metrics?: MetricsRegistry;
}

/** A lifecycle error is the caller's timing, not the server's reachability. */
const countsAsConnectFailure = (error: unknown): boolean => !(error instanceof LifecycleError);

/**
 * The part of every adapter that is the same for every engine, written once: connect/close (AdapterLifecycle),
 * connection attempts retried with backoff and full jitter while nothing has run (ConnectRetry), the circuit breaker,
 * the instruments behind metrics() and the Prometheus exposition, and the health() wrapper. Each engine supplies its
 * driver calls through AdapterHooks.
 */
export class AdapterCore {
  readonly id: string;
  readonly type: string;
  readonly logger: Logger;
  readonly instruments: AdapterInstruments;
  readonly breaker: CircuitBreaker;
  readonly #lifecycle: AdapterLifecycle;
  readonly #retry: ConnectRetry;
  readonly #hooks: AdapterHooks;
  readonly #timeoutMs: number;
  readonly #rotation: CredentialRotation;

  constructor(config: ResolvedDatabaseConfig, type: string, context: AdapterContext, hooks: AdapterHooks) {
    this.id = config.id;
    this.type = type;
    this.logger = context.logger;
    this.#hooks = hooks;
    this.#timeoutMs = hooks.healthTimeoutMs ?? config.timeout;
    this.breaker = new CircuitBreaker(config.id, config.circuitBreaker.failureThreshold, config.circuitBreaker.resetTimeout);
    this.#rotation = new CredentialRotation(config, context.logger, hooks);
    this.#lifecycle = new AdapterLifecycle(
      config.id,
      async () => {
        await hooks.open();
        this.#rotation.start();
      },
      async () => {
        await this.#rotation.stop();
        await hooks.shutdown();
      },
    );
    this.#retry = new ConnectRetry(config.retryAttempts, ({ attempt, delayMs, error }) => {
      this.logger.log('warn', 'connection attempt failed; retrying', { adapter: this.id, attempt, delayMs, error: error instanceof Error ? error.message : String(error) });
    });
    this.instruments =
      context.metrics?.attach(config.id, type, {
        connections: () => {
          const s = hooks.connections();
          return { used: s.active, idle: s.idle, waiting: s.waiting, max: s.max };
        },
        circuit: () => ({ state: this.breaker.state, opened: this.breaker.timesOpened }),
      }) ?? new AdapterInstruments();
  }

  connect(): Promise<void> {
    return this.#lifecycle.connect();
  }

  close(): Promise<void> {
    return this.#lifecycle.close();
  }

  get connected(): boolean {
    return this.#lifecycle.connected;
  }

  get closed(): boolean {
    return this.#lifecycle.closed;
  }

  assertConnected(): void {
    this.#lifecycle.assertConnected();
  }

  /** The error for a call made before connect() or after close(). */
  notConnectedError(): LifecycleError {
    return this.#lifecycle.notConnectedError();
  }

  /**
   * One connection attempt through the circuit breaker. A driver error is mapped (mapConnectError); a failure counts
   * against the circuit and as a failed attempt unless `counts` says otherwise.
   */
  attempt<T>(open: () => Promise<T>, counts: (error: unknown) => boolean = countsAsConnectFailure): Promise<T> {
    return this.breaker.execute(
      () =>
        open().catch((raw: unknown) => {
          const error = raw instanceof DatakeepError ? raw : this.#hooks.mapConnectError(raw);
          if (counts(error)) this.instruments.failedConnectAttempts += 1;
          throw error;
        }),
      counts,
    );
  }

  /** Connection attempts, retried `retryAttempts` times while nothing has run (see ConnectRetry). */
  connectRetrying<T>(open: () => Promise<T>, counts?: (error: unknown) => boolean): Promise<T> {
    return this.#retry.execute(() => this.attempt(open, counts));
  }

  /**
   * Continues after a first attempt made on the pass-through path (`breaker.passThrough`) failed with `raw`: that
   * failure is counted as attempt 1, then the remaining retries run as connectRetrying's would.
   */
  retryAfter<T>(raw: unknown, open: () => Promise<T>): Promise<T> {
    return this.#retry.execute(() => this.attempt(open), { error: raw, replay: (error) => this.attempt(() => Promise.reject(error)) });
  }

  /**
   * One operation (not a connection attempt) through the breaker: only a failure `unreachable` says could not reach
   * the server counts against the circuit (and, with `countAttempt`, as a failed connection attempt); any other
   * failure means the server answered. Errors come out mapped by `map`.
   */
  operate<T>(call: () => Promise<T>, unreachable: (raw: unknown) => boolean, map: (raw: unknown) => DatakeepError, countAttempt = false): Promise<T> {
    const failed = (raw: unknown): DatakeepError => {
      if (countAttempt && unreachable(raw)) this.instruments.failedConnectAttempts += 1;
      return map(raw);
    };
    if (this.breaker.passThrough) {
      return call().catch(async (raw: unknown) => {
        const error = failed(raw);
        if (unreachable(raw)) await this.breaker.recordFailure(error);
        throw error;
      });
    }
    let raw: unknown;
    return this.breaker
      .execute(
        () =>
          call().catch((e: unknown) => {
            raw = e;
            throw failed(e);
          }),
        () => unreachable(raw),
      );
  }

  /** The engine's probe, timed and bounded; _never_ throws (see probeHealth). */
  health(): Promise<HealthStatus> {
    return probeHealth(
      { adapterId: this.id, type: this.type, timeoutMs: this.#timeoutMs, connected: this.#lifecycle.connected, assertConnected: () => this.#lifecycle.assertConnected() },
      this.#hooks,
    );
  }

  /** The seed's DatabaseMetrics, read from the same instruments as the Prometheus exposition. */
  metrics(): DatabaseMetrics {
    const c = this.instruments;
    const endpoint = this.#hooks.endpoint?.();
    return {
      adapterId: this.id,
      type: this.type,
      queries: { total: c.queriesTotal, failed: c.queriesFailed, latency: c.latency.summary() },
      transactions: { committed: c.committed, rolledBack: c.rolledBack, retried: c.retried },
      connections: { ...this.#hooks.connections(), failedAttempts: c.failedConnectAttempts },
      circuit: { state: this.breaker.state, opened: this.breaker.timesOpened },
      ...(endpoint !== undefined ? { endpoint } : {}),
    };
  }
}
