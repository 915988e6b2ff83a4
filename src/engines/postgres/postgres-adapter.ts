import pg from 'pg';
import type { AdapterCapabilities, IsolationLevel } from '../../adapters/capabilities.js';
import type { ResolvedDatabaseConfig } from '../../config/database-config.js';
import { UsageError, type DatakeepError } from '../../errors/index.js';
import type { AdapterDependencies } from '../engine-definition.js';
import { SqlAdapterBase, type ErrorPhase } from '../sql/sql-adapter-base.js';
import { POSTGRES_ISOLATION_LEVELS, postgresBegin } from './postgres-isolation.js';
import type { SqlSessionDriver, StatementResult } from '../sql/sql-session.js';
import { mapPostgresError } from './map-postgres-error.js';
import { postgresTlsOptions } from './postgres-tls.js';
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
  readonly #driver: SqlSessionDriver<pg.PoolClient>;

  constructor(config: ResolvedDatabaseConfig, deps: AdapterDependencies) {
    super(config, deps);
    this.#driver = {
      acquire: () => this.pool.connect(),
      release: (client, broken) => client.release(broken ? true : undefined),
      run: async (client, text, params): Promise<StatementResult> => {
        const result = await client.query(text, params as unknown[] | undefined);
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
    const c = this.config;
    const pool = new pg.Pool({
      host: c.host,
      port: c.port,
      database: c.database,
      user: c.username,
      password: c.password,
      ssl: postgresTlsOptions(c),
      max: c.poolSize,
      // The connect timeout is set on each Client rather than on the pool: pg-pool's connectionTimeoutMillis also
      // starts and clears a timer for every checkout that has to queue, which measurably taxes busy pools (about 10 %
      // client CPU per query at 32 in flight on 16 connections). A caller waiting for a free connection therefore
      // waits as long as pg's own pool would; health() reports such waiting as `degraded`.
      Client: clientWithConnectTimeout(c.timeout),
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      application_name: c.applicationName,
      statement_timeout: c.statementTimeout,
      // statement_timeout runs on the server, so a frozen server (or a cut network that the kernel still
      // acknowledges) would leave a query pending forever. A client-side limit a little longer than the server's
      // catches that case without racing the server's own cancellation.
      query_timeout: c.statementTimeout === undefined ? undefined : c.statementTimeout + 2000,
    });
    // An idle client whose server went away emits 'error' on the pool; without a listener Node would crash the process.
    pool.on('error', (error) => this.logger.log('warn', 'idle connection failed', { adapter: this.id, error: error.message }));
    // A checked-out client can also emit 'error' between statements (inside a transaction); the failing statement is
    // reported to its caller, so this listener only keeps the process alive.
    pool.on('connect', (client) => {
      client.on('error', (error) => this.logger.log('warn', 'connection failed', { adapter: this.id, error: error.message }));
    });
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
    const pool = this.#pool;
    this.#pool = undefined;
    if (pool) await pool.end();
  }

  protected mapError(error: unknown, phase: ErrorPhase): DatakeepError {
    return mapPostgresError(this.id, error, phase, { connect: this.config.timeout, statement: this.config.statementTimeout });
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
      return { serverVersion: row.version, inRecovery: row.in_recovery };
    } catch (error) {
      broken = true;
      throw error;
    } finally {
      client.release(broken ? true : undefined);
    }
  }

  protected poolStats() {
    const pool = this.#pool;
    if (!pool) return { active: 0, idle: 0, waiting: 0, total: 0, max: this.config.poolSize };
    return { active: pool.totalCount - pool.idleCount, idle: pool.idleCount, waiting: pool.waitingCount, total: pool.totalCount, max: this.config.poolSize };
  }
}

/** A pg.Client class whose connections time out after `timeoutMs` (see the pool options for why). */
function clientWithConnectTimeout(timeoutMs: number): typeof pg.Client {
  return class extends pg.Client {
    constructor(config?: string | pg.ClientConfig) {
      super({ ...(typeof config === 'string' ? { connectionString: config } : config), connectionTimeoutMillis: timeoutMs });
    }
  };
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
