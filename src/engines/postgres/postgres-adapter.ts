import pg from 'pg';
import { queryAfterLeading } from './after-leading-query.js';
import type { AdapterCapabilities, IsolationLevel } from '../../adapters/capabilities.js';
import type { ResolvedDatabaseConfig } from '../../config/database-config.js';
import { TimeoutError, UsageError, type DatakeepError } from '../../errors/index.js';
import { AsyncMutex } from '../../locks/async-mutex.js';
import { withTimeout } from '../../resilience/with-timeout.js';
import type { AdapterDependencies } from '../engine-definition.js';
import { SqlAdapterBase, type ErrorPhase } from '../sql/sql-adapter-base.js';
import { POSTGRES_ISOLATION_LEVELS, postgresBegin } from './postgres-isolation.js';
import type { SqlSessionDriver, StatementResult } from '../sql/sql-session.js';
import { mapPostgresError } from './map-postgres-error.js';
import { configuredEndpoint, createPostgresPool, retirePool, type PostgresEndpoint } from './postgres-pool.js';
import { mapPostgresFailover } from './replication/map-postgres-failover.js';
import { translatePlaceholders } from './translate-placeholders.js';

const CAPABILITIES: AdapterCapabilities = Object.freeze({
  sql: true,
  transactions: true,
  savepoints: true,
  isolationLevels: POSTGRES_ISOLATION_LEVELS,
  readOnlyTransactions: true,
  transactionalDdl: true,
  twoPhase: 'xa',
  physicalBackup: true,
  pointInTimeRecovery: true,
  replicationControl: true,
});

/** PostgreSQL on node-postgres: one pg.Pool per adapter; sessions are pool clients. */
export class PostgresAdapter extends SqlAdapterBase<pg.PoolClient> {
  readonly type = 'postgresql';
  readonly capabilities = CAPABILITIES;
  #pool: pg.Pool | undefined;
  /** Where new sessions connect: the configured host and port until routeTo points the adapter elsewhere. */
  #endpoint: PostgresEndpoint;
  #routed = false;
  /** Pools replaced by routeTo whose sessions in use have not all been released yet. */
  readonly #retiring = new Set<pg.Pool>();
  readonly #routing = new AsyncMutex();
  readonly #driver: SqlSessionDriver<pg.PoolClient>;

  constructor(config: ResolvedDatabaseConfig, deps: AdapterDependencies) {
    super(config, deps);
    this.#endpoint = configuredEndpoint(config);
    this.#driver = {
      acquire: () => this.pool.connect(),
      release: (client, broken) => client.release(broken ? true : undefined),
      run: async (client, text, params): Promise<StatementResult> => {
        const result = await client.query(text, params as unknown[] | undefined);
        return { rows: result.rows, rowCount: result.rowCount ?? 0, command: result.command };
      },
      runAfter: async (client, leading, text, params): Promise<StatementResult> => {
        const result = await queryAfterLeading(client, leading, text, params);
        return { rows: result.rows, rowCount: result.rowCount ?? 0, command: result.command };
      },
      // Without parameters pg uses the simple query protocol, which accepts several statements.
      runScript: async (client, text) => {
        await client.query(text);
      },
    };
  }

  protected get driver(): SqlSessionDriver<pg.PoolClient> {
    return this.#driver;
  }

  private get pool(): pg.Pool {
    if (!this.#pool) throw new Error(`internal: ${this.id} pool used before open`);
    return this.#pool;
  }

  protected async open(): Promise<void> {
    const pool = createPostgresPool(this.config, this.#endpoint, this.logger);
    this.#pool = pool;
    try {
      const client = await this.openSession();
      client.release();
    } catch (error) {
      this.#pool = undefined;
      await pool.end().catch(() => undefined);
      throw error;
    }
  }

  protected async shutdown(): Promise<void> {
    const pools = [this.#pool, ...this.#retiring];
    this.#pool = undefined;
    this.#retiring.clear();
    await Promise.all(pools.map((pool) => pool?.end()));
  }

  /**
   * Points the adapter at another server without a restart (used by routePostgresAdapter): a pool to `endpoint` is
   * opened and one connection proven within `timeoutMs` (else this throws, and the adapter keeps its target); then new
   * sessions come from it, and the old pool is retired (idle sessions closed, sessions in use closed when released).
   * From the first call on, failures caused by the primary changing or going away are FailoverErrors.
   */
  async routeTo(endpoint: PostgresEndpoint, timeoutMs: number): Promise<void> {
    const unlock = await this.#routing.lock();
    try {
      this.core.assertConnected();
      const current = this.#endpoint;
      if (current.host === endpoint.host && current.port === endpoint.port) {
        this.#endpoint = endpoint;
        this.#routed = true;
        return;
      }
      const pool = createPostgresPool(this.config, endpoint, this.logger);
      const first = pool.connect();
      try {
        const client = await withTimeout(
          () => first,
          timeoutMs,
          () => new TimeoutError('connect', `${this.id}: no connection to ${endpoint.name} within ${timeoutMs} ms`, { timeoutMs }),
        );
        client.release();
      } catch (raw) {
        // A connection that arrives after the limit is released to the ending pool, which closes it. One still being
        // attempted holds end() until pg's own connect timeout, so nobody waits for it.
        first.then((client) => client.release(), () => undefined);
        pool.end().catch(() => undefined);
        throw raw instanceof TimeoutError ? raw : mapPostgresError(this.id, raw, 'connect', { connect: this.config.timeout });
      }
      const old = this.#pool;
      if (!old || !this.core.connected) {
        await pool.end().catch(() => undefined);
        throw this.core.notConnectedError();
      }
      this.#pool = pool;
      this.#endpoint = endpoint;
      this.#routed = true;
      // The failures that opened the circuit were the old node's; a connection to the new one was just proven, so
      // waiting out the reset timeout would only delay the first write on the new primary.
      this.core.breaker.reconnected();
      this.logger.log('info', 'adapter routed', { adapter: this.id, endpoint: endpoint.name, from: current.name });
      this.#retire(old, pool, current);
    } finally {
      unlock();
    }
  }

  /**
   * The password changed: a new pool to the same endpoint (its connections read the new `config.password`) takes
   * new sessions and callers queued for one; the old pool is retired as routeTo retires it, so statements in flight
   * finish on their sessions, which close when released.
   */
  protected override async rotateCredentials(): Promise<void> {
    const unlock = await this.#routing.lock();
    try {
      const old = this.#pool;
      if (!old) return;
      const pool = createPostgresPool(this.config, this.#endpoint, this.logger);
      this.#pool = pool;
      this.#retire(old, pool, this.#endpoint);
    } finally {
      unlock();
    }
  }

  /** Idle sessions of `old` closed now, sessions in use when released, its queued callers handed to `next`. */
  #retire(old: pg.Pool, next: pg.Pool, endpoint: PostgresEndpoint): void {
    this.#retiring.add(old);
    retirePool(old, next)
      .catch((error: unknown) => this.logger.log('warn', 'closing the previous pool failed', { adapter: this.id, endpoint: endpoint.name, error: String(error) }))
      .finally(() => this.#retiring.delete(old));
  }

  /** Whether routeTo has been called: the adapter is part of a replicated cluster. */
  get routed(): boolean {
    return this.#routed;
  }

  protected override endpoint(): string {
    return this.#endpoint.name;
  }

  protected mapError(error: unknown, phase: ErrorPhase): DatakeepError {
    const mapped = mapPostgresError(this.id, error, phase, { connect: this.config.timeout, statement: this.config.statementTimeout });
    return this.#routed ? mapPostgresFailover(this.id, error, phase, mapped, this.#endpoint.name) : mapped;
  }

  protected beginStatements(isolationLevel: IsolationLevel | undefined, readOnly: boolean): string[] {
    return postgresBegin(isolationLevel, readOnly);
  }

  protected prepareStatement(sql: string, params: readonly unknown[] | undefined) {
    return preparePostgresStatement(sql, params);
  }

  protected async probe() {
    const client = await this.probeSession();
    let broken = false;
    try {
      const result = await client.query<{ version: string; in_recovery: boolean }>(
        "SELECT current_setting('server_version') AS version, pg_is_in_recovery() AS in_recovery",
      );
      const row = result.rows[0]!;
      return { serverVersion: row.version, inRecovery: row.in_recovery, details: { endpoint: this.#endpoint.name } };
    } catch (error) {
      broken = true;
      throw error;
    } finally {
      client.release(broken ? true : undefined);
    }
  }

  /** The current pool, plus the sessions still in use in pools retired by routeTo (they are real connections). */
  protected poolStats() {
    let active = 0;
    let idle = 0;
    let waiting = 0;
    let total = 0;
    for (const pool of [this.#pool, ...this.#retiring]) {
      if (!pool) continue;
      active += pool.totalCount - pool.idleCount;
      idle += pool.idleCount;
      waiting += pool.waitingCount;
      total += pool.totalCount;
    }
    return { active, idle, waiting, total, max: this.config.poolSize };
  }
}

/** `?` to `$n`, with a clear error when the placeholder count and the parameter count disagree. */
export function preparePostgresStatement(sql: string, params: readonly unknown[] | undefined) {
  const translated = translatePlaceholders(sql);
  if (translated.placeholders >= 0 && translated.placeholders !== (params?.length ?? 0)) {
    throw new UsageError(
      'params',
      `the statement has ${translated.placeholders} ? placeholder(s) but ${params?.length ?? 0} parameter(s) were given. ` +
        'Write a literal ? (the jsonb operators ?, ?| and ?&) as ?? (??| and ??&), or use $1-style placeholders',
    );
  }
  return { text: translated.text, params };
}
