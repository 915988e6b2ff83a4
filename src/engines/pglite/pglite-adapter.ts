import { mkdirSync } from 'node:fs';
import type { PGlite } from '@electric-sql/pglite';
import type { AdapterCapabilities, IsolationLevel } from '../../adapters/capabilities.js';
import type { ResolvedDatabaseConfig } from '../../config/database-config.js';
import { ConnectionError, type DatakeepError } from '../../errors/index.js';
import { ProcessDirLock } from '../../util/process-dir-lock.js';
import type { AdapterDependencies } from '../engine-definition.js';
import { mapPostgresError } from '../postgres/map-postgres-error.js';
import { preparePostgresStatement } from '../postgres/postgres-adapter.js';
import { AsyncMutex } from '../../locks/async-mutex.js';
import { SqlAdapterBase, type ErrorPhase } from '../sql/sql-adapter-base.js';
import { POSTGRES_ISOLATION_LEVELS, postgresBegin } from '../postgres/postgres-isolation.js';
import type { SqlSessionDriver } from '../sql/sql-session.js';

const CAPABILITIES: AdapterCapabilities = Object.freeze({
  sql: true,
  transactions: true,
  savepoints: true,
  isolationLevels: POSTGRES_ISOLATION_LEVELS,
  readOnlyTransactions: true,
  transactionalDdl: true,
  // PGlite runs with max_prepared_transactions = 0 and has no WAL archive or replication.
  twoPhase: 'one-phase',
  physicalBackup: false,
  pointInTimeRecovery: false,
  replicationControl: false,
});

type Session = () => void;

/**
 * Embedded PostgreSQL (PGlite, WebAssembly) in a local directory: the default when nothing is configured. It has one
 * session, so a mutex hands it to one caller at a time; a transaction holds it from BEGIN to COMMIT, which is what
 * keeps other callers' statements out of it.
 */
export class PgliteAdapter extends SqlAdapterBase<Session> {
  readonly type = 'pglite';
  readonly capabilities = CAPABILITIES;
  #db: PGlite | undefined;
  readonly #mutex = new AsyncMutex();
  #lock: ProcessDirLock | undefined;
  readonly #driver: SqlSessionDriver<Session>;

  constructor(config: ResolvedDatabaseConfig, deps: AdapterDependencies) {
    super(config, deps);
    this.#driver = {
      acquire: () => this.#mutex.lock(),
      release: (release) => release(),
      run: async (_session, text, params) => {
        if (!this.#db) throw new ConnectionError(this.id, 'the embedded database is closed');
        const result = await this.#db.query(text, params as unknown[] | undefined);
        return { rows: result.rows as Record<string, unknown>[], rowCount: result.affectedRows ?? 0, command: (result as { command?: string }).command };
      },
      runScript: async (_session, text) => {
        if (!this.#db) throw new ConnectionError(this.id, 'the embedded database is closed');
        await this.#db.exec(text);
      },
    };
  }

  /** Where the data lives ("memory" for an in-memory database). */
  get dataDir(): string {
    return this.config.dataDir ?? 'memory';
  }

  /**
   * Runs `fn` with the embedded database itself, holding its one session until `fn` returns: for what the SQL session
   * cannot carry (COPY through a Blob, for logical backups). `fn` must use only the database it is given.
   */
  async withDatabase<T>(fn: (db: PGlite) => Promise<T>): Promise<T> {
    await this.connect();
    const release = await this.#mutex.lock();
    try {
      if (!this.#db) throw new ConnectionError(this.id, 'the embedded database is closed');
      return await fn(this.#db);
    } finally {
      release();
    }
  }

  protected get driver(): SqlSessionDriver<Session> {
    return this.#driver;
  }

  protected async open(): Promise<void> {
    const { PGlite } = await import('@electric-sql/pglite');
    const dir = this.dataDir;
    if (dir !== 'memory') {
      mkdirSync(dir, { recursive: true });
      this.#lock = new ProcessDirLock(dir);
      this.#lock.acquire();
    }
    try {
      this.#db = await PGlite.create(dir === 'memory' ? undefined : dir);
    } catch (cause) {
      this.#lock?.release();
      throw new ConnectionError(this.id, `cannot open the embedded database in ${dir}: ${(cause as Error).message}`, { cause });
    }
  }

  protected async shutdown(): Promise<void> {
    const release = await this.#mutex.lock();
    try {
      await this.#db?.close();
    } finally {
      this.#db = undefined;
      this.#lock?.release();
      release();
    }
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
    const rows = await this.query<{ version: string; in_recovery: boolean }>(
      "SELECT current_setting('server_version') AS version, pg_is_in_recovery() AS in_recovery",
    );
    return { serverVersion: `${rows[0]!.version} (PGlite)`, inRecovery: rows[0]!.in_recovery, details: { dataDir: this.dataDir } };
  }

  protected poolStats() {
    const busy = this.#mutex.held ? 1 : 0;
    return { active: busy, idle: this.#db ? 1 - busy : 0, waiting: this.#mutex.waiting, total: this.#db ? 1 : 0, max: 1 };
  }
}
