import mariadb from 'mariadb';
import type { Connection, Pool, PoolConfig, PoolConnection } from 'mariadb';
import type { AdapterCapabilities, IsolationLevel } from '../../adapters/capabilities.js';
import type { ResolvedDatabaseConfig } from '../../config/database-config.js';
import { DatakeepError, QueryError, TimeoutError } from '../../errors/index.js';
import { sleep } from '../../resilience/backoff.js';
import type { AdapterDependencies } from '../engine-definition.js';
import { SqlAdapterBase, type ErrorPhase } from '../sql/sql-adapter-base.js';
import type { SqlSessionDriver } from '../sql/sql-session.js';
import { mapMariadbError } from './map-mariadb-error.js';
import { mariadbTlsOptions } from './mariadb-tls.js';
import { MariadbXa } from './mariadb-xa.js';
import type { MariadbXaHost } from './mariadb-xa-host.js';
import { normalizeMariadbResult, type MariadbStatementResult } from './normalize-mariadb-result.js';
import { prepareMariadbStatement } from './prepare-mariadb-statement.js';
import { splitMariadbScript } from './split-mariadb-script.js';

const CAPABILITIES: AdapterCapabilities = Object.freeze({
  sql: true,
  transactions: true,
  savepoints: true,
  // InnoDB runs all four as asked (READ UNCOMMITTED really reads uncommitted rows), so all four are offered.
  isolationLevels: Object.freeze(['read uncommitted', 'read committed', 'repeatable read', 'serializable'] as IsolationLevel[]),
  readOnlyTransactions: true,
  // CREATE/ALTER/DROP commit the open transaction implicitly: they cannot be rolled back.
  transactionalDdl: false,
  twoPhase: 'xa',
  // mariadb-backup plus the archived binlog (src/engines/mariadb/backup/).
  physicalBackup: true,
  pointInTimeRecovery: true,
  replicationControl: false,
});

// Errors inside a transaction that mean "run the whole transaction again": deadlock (the server rolled the
// transaction back) and, on MariaDB 11.8+ with innodb_snapshot_isolation, a write conflict in REPEATABLE READ.
const ER_LOCK_DEADLOCK = 1213;
const ER_CHECKREAD = 1020;

/** What the server said about itself on the first connection. */
interface ServerFlavor {
  readonly mariadb: boolean;
  readonly version: string;
}

/**
 * MariaDB and MySQL on the `mariadb` driver: one driver pool per adapter; sessions are pool connections; `?`
 * placeholders go to the driver unchanged. Also serves `type: 'mysql'` (the protocol is the same; statement timeouts
 * and replica status use each server's own variables, chosen from the server's handshake).
 */
export class MariadbAdapter extends SqlAdapterBase<Connection> {
  readonly type: string;
  readonly capabilities = CAPABILITIES;
  #pool: Pool | undefined;
  /** Pools replaced after a password change, until their sessions in use have come back. */
  readonly #retired = new Set<Pool>();
  #flavor: ServerFlavor | undefined;
  #xa: MariadbXa | undefined;
  readonly #driver: SqlSessionDriver<Connection>;

  constructor(config: ResolvedDatabaseConfig, deps: AdapterDependencies) {
    super(config, deps);
    this.type = config.type;
    this.#driver = {
      // Before open() has created the pool, sessions are direct connections: they fail at once with the server's
      // real answer (wrong password, unknown database), where the pool would keep retrying for acquireTimeout.
      acquire: () => (this.#pool ? this.#pool.getConnection() : mariadb.createConnection(this.connectionOptions())),
      release: (conn, broken) => {
        if (broken) {
          conn.destroy();
          if (this.#retired.size > 0) this.#endRetiredPools();
          return;
        }
        const released = (conn as PoolConnection).release().catch(() => undefined);
        // After a password change, the session may have been the last one holding a retired pool open.
        if (this.#retired.size > 0) void released.then(() => this.#endRetiredPools());
      },
      run: (conn, text, params) => this.#run(conn, text, params, text === 'COMMIT' ? 'COMMIT' : undefined),
      runScript: (conn, text) => this.#runScript(conn, text),
    };
  }

  protected get driver(): SqlSessionDriver<Connection> {
    return this.#driver;
  }

  /**
   * The XA primitives for a transaction coordinator, on this adapter's pool (requires a connected adapter).
   * See MariadbXa and docs/mariadb.md.
   */
  get xa(): MariadbXa {
    this.assertConnected();
    this.#xa ??= new MariadbXa(this.#xaHost());
    return this.#xa;
  }

  /** "MariaDB" or "MySQL" and its version, once connected. */
  get server(): ServerFlavor | undefined {
    return this.#flavor;
  }

  /**
   * Like `query`, but for statements without a result set returns what MariaDB reports instead of an empty row list:
   * `{affectedRows, insertId, warningStatus}`. This is what `DataManager.queryDatabase` shows for an INSERT.
   */
  override async command(command: string | readonly unknown[], params?: readonly unknown[]): Promise<unknown> {
    if (typeof command !== 'string') return super.command(command, params);
    const result = (await this.statement(command, params)) as MariadbStatementResult;
    if (result.insertId === undefined) return result.rows;
    return { affectedRows: result.rowCount, insertId: result.insertId, warningStatus: result.warningStatus ?? 0 };
  }

  protected override isRetryableTransactionError(error: DatakeepError): boolean {
    if (!(error instanceof QueryError)) return false;
    const errno = (error.cause as { errno?: number } | undefined)?.errno;
    return errno === ER_LOCK_DEADLOCK || errno === ER_CHECKREAD || error.sqlState === '40001';
  }

  protected async open(): Promise<void> {
    // Prove the settings on one direct connection first (retried with backoff by the base while the server cannot be
    // reached), and learn whether the server is MariaDB or MySQL: the statement timeout variable depends on it.
    const probe = await this.openSession();
    try {
      this.#flavor = { mariadb: probe.info?.isMariaDB() ?? true, version: probe.serverVersion() };
    } finally {
      await probe.end().catch(() => probe.destroy());
    }
    const pool = this.#createPool();
    this.#pool = pool;
    try {
      const conn = await this.openSession();
      this.#driver.release(conn, false);
    } catch (error) {
      this.#pool = undefined;
      await pool.end().catch(() => undefined);
      throw error;
    }
  }

  protected async shutdown(): Promise<void> {
    const pools = [this.#pool, ...this.#retired];
    this.#pool = undefined;
    this.#retired.clear();
    await Promise.all(pools.map((pool) => pool?.end()));
  }

  #createPool(): Pool {
    const pool = mariadb.createPool(this.poolOptions());
    // The driver re-emits connection-creation failures on the pool; an EventEmitter without an 'error' listener would
    // crash the process. Callers get the failure from getConnection, so this only logs it.
    (pool as unknown as NodeJS.EventEmitter).on('error', (error: Error) => this.logger.log('warn', 'pool connection failed', { adapter: this.id, error: (error as { sqlMessage?: string }).sqlMessage ?? error.name }));
    return pool;
  }

  /**
   * The password changed: a new pool (whose connections read the new `config.password`) takes every new session; the
   * old one is ended once its last session in use comes back. Not at once: the driver's end() rejects callers still
   * queued on it and destroys sessions still in use after 10 s, which would fail statements in flight.
   */
  protected override rotateCredentials(): Promise<void> {
    const old = this.#pool;
    if (!old) return Promise.resolve();
    this.#pool = this.#createPool();
    this.#retired.add(old);
    this.#endRetiredPools();
    if (this.#retired.has(old)) void this.#closeIdleSessions(old);
    return Promise.resolve();
  }

  /**
   * Closes the idle sessions of a retired pool now rather than when its last session in use comes back: the driver
   * closes idle connections only by ending the pool, so each is taken out (an idle one is handed over at once) and
   * destroyed. Stops when a caller queues on the pool, or on any error (the pool's end() closes what is left).
   */
  async #closeIdleSessions(pool: Pool): Promise<void> {
    try {
      while (pool.idleConnections() > 0 && pool.taskQueueSize() === 0 && this.#retired.has(pool)) {
        (await pool.getConnection()).destroy();
      }
    } catch {
      // the pool is ended by #endRetiredPools when its sessions are back, whatever happened here
    }
    this.#endRetiredPools();
  }

  /** Ends each retired pool that no session uses and no caller waits on (its idle connections close with it). */
  #endRetiredPools(): void {
    for (const pool of this.#retired) {
      if (pool.activeConnections() > 0 || pool.taskQueueSize() > 0) continue;
      this.#retired.delete(pool);
      pool.end().catch((error: unknown) => this.logger.log('warn', 'closing the previous pool failed', { adapter: this.id, error: String(error) }));
    }
  }

  protected mapError(error: unknown, phase: ErrorPhase): DatakeepError {
    return mapMariadbError(this.id, error, phase, this.#errorContext());
  }

  protected beginStatements(isolationLevel: IsolationLevel | undefined, readOnly: boolean): string[] {
    // SET TRANSACTION without SESSION applies to the next transaction only, so a pooled session keeps its default.
    const begin = readOnly ? 'START TRANSACTION READ ONLY' : 'START TRANSACTION';
    return isolationLevel ? [`SET TRANSACTION ISOLATION LEVEL ${isolationLevel.toUpperCase()}`, begin] : [begin];
  }

  protected prepareStatement(sql: string, params: readonly unknown[] | undefined) {
    return prepareMariadbStatement(sql, params);
  }

  protected async probe() {
    const conn = await this.probeSession();
    let broken = false;
    try {
      const row = (await this.#run(conn, 'SELECT VERSION() AS version, @@read_only AS read_only', undefined, undefined)).rows[0]!;
      const replica = await this.#replicaStatus(conn);
      const reasons: string[] = [];
      const details: Record<string, unknown> = { flavor: this.#flavor?.mariadb === false ? 'MySQL' : 'MariaDB', readOnly: Number(row.read_only) === 1 };
      if (replica) {
        details.replica = replica;
        if (replica.ioRunning !== 'Yes' || replica.sqlRunning !== 'Yes') {
          reasons.push(`replication is not running (IO thread ${replica.ioRunning}, SQL thread ${replica.sqlRunning}${replica.lastError ? `: ${replica.lastError}` : ''})`);
        }
      }
      return { serverVersion: String(row.version), inRecovery: replica !== undefined, details, reasons };
    } catch (error) {
      broken = error instanceof DatakeepError ? error.code === 'DK_CONNECTION' : true;
      throw error;
    } finally {
      this.#driver.release(conn, broken);
    }
  }

  /** The current pool, plus pools retired by a password change whose sessions are not all back yet. */
  protected poolStats() {
    const stats = { active: 0, idle: 0, waiting: 0, total: 0, max: this.config.poolSize };
    for (const pool of [this.#pool, ...this.#retired]) {
      if (!pool) continue;
      stats.active += pool.activeConnections();
      stats.idle += pool.idleConnections();
      stats.waiting += pool.taskQueueSize();
      stats.total += pool.totalConnections();
    }
    return stats;
  }

  /** The replica's state when this server replicates from another, undefined otherwise or without the privilege. */
  async #replicaStatus(conn: Connection) {
    let rows;
    try {
      rows = (await this.#run(conn, 'SHOW REPLICA STATUS', undefined, undefined)).rows;
    } catch (error) {
      // SHOW REPLICA STATUS: MariaDB 10.5.1+, MySQL 8.0.22+. Older servers know only SHOW SLAVE STATUS; an account
      // without REPLICATION CLIENT / SLAVE MONITOR gets an access error, and health does not need this part.
      if (!(error instanceof QueryError)) throw error;
      try {
        rows = (await this.#run(conn, 'SHOW SLAVE STATUS', undefined, undefined)).rows;
      } catch (second) {
        if (!(second instanceof QueryError)) throw second;
        return undefined;
      }
    }
    const r = rows[0];
    if (!r) return undefined;
    const lag = r.Seconds_Behind_Master ?? r.Seconds_Behind_Source;
    return {
      sourceHost: (r.Master_Host ?? r.Source_Host) as string | undefined,
      ioRunning: String(r.Slave_IO_Running ?? r.Replica_IO_Running),
      sqlRunning: String(r.Slave_SQL_Running ?? r.Replica_SQL_Running),
      lagSeconds: lag === null || lag === undefined ? null : Number(lag),
      lastError: (r.Last_Error as string | undefined) || undefined,
    };
  }

  async #run(conn: Connection, text: string, params: readonly unknown[] | undefined, commitLabel: string | undefined): Promise<MariadbStatementResult> {
    try {
      return normalizeMariadbResult(await conn.query(text, params));
    } catch (raw) {
      // Mapped here rather than only in the base so that every statement of this adapter (BEGIN, XA, health) throws
      // datakeep errors; the base passes DatakeepErrors through unchanged.
      throw mapMariadbError(this.id, raw, commitLabel ? 'commit' : 'query', { ...this.#errorContext(), commitLabel });
    }
  }

  /**
   * Scripts are split on the client (see splitMariadbScript) and run one statement at a time: a failure stops the
   * script, and the statements before it stay done unless a transaction encloses the script (DDL commits anyway).
   */
  async #runScript(conn: Connection, text: string): Promise<void> {
    const statements = splitMariadbScript(text);
    for (const [index, statement] of statements.entries()) {
      try {
        await this.#run(conn, statement, undefined, undefined);
      } catch (error) {
        if (!(error instanceof QueryError)) throw error;
        const detail = error.message.replace(`${this.id}: `, '').replace(/ \(SQLSTATE [0-9A-Z]+\)$/, '');
        throw new QueryError(this.id, `statement ${index + 1} of ${statements.length} in the script failed: ${detail}`, { sqlState: error.sqlState, cause: error.cause });
      }
    }
  }

  #xaHost(): MariadbXaHost {
    return {
      adapterId: this.id,
      acquire: () => this.acquire(),
      release: (conn, broken) => this.#driver.release(conn, broken),
      waitForSessionEnd: (threadId) => this.#waitForSessionEnd(threadId),
      run: async (conn, text, params, commitLabel) => {
        const started = performance.now();
        try {
          const result = await this.#run(conn, text, params, commitLabel);
          this.instruments.record(performance.now() - started);
          return result;
        } catch (error) {
          this.instruments.record(performance.now() - started);
          this.instruments.recordError((error as DatakeepError).code);
          throw error;
        }
      },
    };
  }

  async #waitForSessionEnd(threadId: number): Promise<void> {
    const deadline = performance.now() + this.config.timeout;
    const conn = await this.acquire();
    let broken = false;
    try {
      for (;;) {
        // A session always sees its own account's threads, so no PROCESS privilege is needed for this one.
        const rows = (await this.#run(conn, 'SELECT 1 AS alive FROM information_schema.PROCESSLIST WHERE ID = ?', [threadId], undefined)).rows;
        if (rows.length === 0) return;
        if (performance.now() > deadline) {
          throw new TimeoutError('operation', `${this.id}: the server still lists session ${threadId} ${this.config.timeout} ms after it was disconnected`, { timeoutMs: this.config.timeout });
        }
        await sleep(5);
      }
    } catch (error) {
      broken = !(error instanceof TimeoutError);
      throw error;
    } finally {
      this.#driver.release(conn, broken);
    }
  }

  #errorContext() {
    const c = this.config;
    return { connectTimeout: c.timeout, statementTimeout: c.statementTimeout, database: c.database, poolSize: c.poolSize };
  }

  private connectionOptions() {
    const c = this.config;
    return {
      host: c.host,
      port: c.port,
      database: c.database,
      user: c.username,
      password: c.password,
      ssl: mariadbTlsOptions(c),
      connectTimeout: c.timeout,
      keepAliveDelay: 30_000,
      connectAttributes: { program_name: c.applicationName },
      // Results: row objects (not [rows, meta]); BIGINT as BigInt and DECIMAL as exact strings from the driver, then
      // normalizeMariadbResult turns safe BIGINTs into numbers. The driver's own number options would round silently.
      metaAsArray: false,
      rowsAsArray: false,
      bigIntAsNumber: false,
      decimalAsNumber: false,
      insertIdAsNumber: false,
    };
  }

  private poolOptions(): PoolConfig {
    const c = this.config;
    const options: PoolConfig = {
      ...this.connectionOptions(),
      connectionLimit: c.poolSize,
      // Waiting for a free pooled connection is bounded by the same timeout as making one.
      acquireTimeout: c.timeout,
      // A fixed-size pool would open poolSize connections at start; connections are opened on demand and closed
      // after 10 minutes idle instead, as node-postgres does.
      minimumIdle: 0,
      idleTimeout: 600,
    };
    if (c.statementTimeout !== undefined) {
      // A session variable, set once per connection: no per-statement cost (the driver's per-query `timeout` option
      // rewrites every statement into SET STATEMENT ... FOR). MariaDB's applies to every statement; MySQL's only to
      // SELECT.
      options.initSql = this.#flavor?.mariadb === false
        ? `SET SESSION max_execution_time = ${c.statementTimeout}`
        : `SET SESSION max_statement_time = ${c.statementTimeout / 1000}`;
    }
    return options;
  }
}
