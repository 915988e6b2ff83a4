import type { Row, SqlDatabaseAdapter } from '../../adapters/database-adapter.js';
import { ConfigurationError, QueryError } from '../../errors/index.js';
import type { HistoryRecord, MigrationKind, MigrationStatus, NewHistoryRecord } from '../../migrations/migration-types.js';
import type { MigrationHistory } from '../../migrations/migration-history.js';

export type SqlDialect = 'postgres' | 'mysql';



/** The history as a table in the migrated SQL database (PostgreSQL, PGlite, MariaDB/MySQL). */
export class SqlMigrationHistory implements MigrationHistory {
  readonly location: string;

  constructor(
    private readonly adapter: SqlDatabaseAdapter,
    private readonly table: string,
    private readonly dialect: SqlDialect,
  ) {
    this.location = `table ${table}`;
  }

  async ensure(): Promise<void> {
    const pg = this.dialect === 'postgres';
    await this.adapter.execute(`CREATE TABLE IF NOT EXISTS ${this.table} (
      id ${pg ? 'bigserial' : 'BIGINT AUTO_INCREMENT'} PRIMARY KEY,
      version varchar(100) NOT NULL,
      name varchar(200) NOT NULL,
      kind varchar(16) NOT NULL,
      checksum varchar(100),
      status varchar(16) NOT NULL,
      started_at ${pg ? 'timestamptz' : 'TIMESTAMP(3) NULL'},
      finished_at ${pg ? 'timestamptz' : 'TIMESTAMP(3) NULL'},
      duration_ms integer,
      applied_by varchar(200) NOT NULL,
      datakeep_version varchar(32) NOT NULL,
      error text
    )`).catch((error: unknown) => {
      // Two runners creating the table at once: PostgreSQL's IF NOT EXISTS does not cover the race, and the loser gets
      // a unique violation on its catalog (or duplicate_table) once the winner committed, so the table exists.
      if (!(pg && error instanceof QueryError && (error.sqlState === '23505' || error.sqlState === '42P07'))) throw error;
    });
    // A table of the same name written by another tool would make every later query fail obscurely.
    const probe = await this.adapter.query(`SELECT id, version, name, kind, checksum, status, started_at, finished_at, duration_ms, applied_by, datakeep_version, error FROM ${this.table} WHERE 1 = 0`).catch((cause: unknown) => {
      throw new ConfigurationError('migrations.tableName', `table ${this.table} exists but is not a datakeep migration history (${(cause as Error).message})`, 'Choose another tableName, or migrate that tool\'s history first (baseline)', { cause });
    });
    void probe;
  }

  async records(): Promise<HistoryRecord[]> {
    try {
      const rows = await this.adapter.query<Row>(`SELECT id, version, name, kind, checksum, status, started_at, finished_at, duration_ms, applied_by, datakeep_version, error FROM ${this.table} ORDER BY id`);
      return rows.map(toRecord);
    } catch (error) {
      // No table yet means no history: read-only commands (status, validate, plan) must not create it.
      if (error instanceof QueryError && (error.sqlState === '42P01' || error.sqlState === '42S02')) return [];
      throw error;
    }
  }

  async append(r: NewHistoryRecord): Promise<void> {
    await this.adapter.execute(
      `INSERT INTO ${this.table} (version, name, kind, checksum, status, started_at, finished_at, duration_ms, applied_by, datakeep_version, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [r.version, r.name, r.kind, r.checksum, r.status, r.startedAt, r.finishedAt, r.durationMs, r.appliedBy.slice(0, 200), r.datakeepVersion, r.error],
    );
  }
}

function toRecord(row: Row): HistoryRecord {
  return {
    id: Number(row.id),
    version: String(row.version),
    name: String(row.name),
    kind: row.kind as MigrationKind,
    checksum: (row.checksum as string | null) ?? null,
    status: row.status as MigrationStatus,
    startedAt: toDate(row.started_at)!,
    finishedAt: toDate(row.finished_at),
    durationMs: row.duration_ms === null || row.duration_ms === undefined ? null : Number(row.duration_ms),
    appliedBy: String(row.applied_by),
    datakeepVersion: String(row.datakeep_version),
    error: (row.error as string | null) ?? null,
  };
}

function toDate(value: unknown): Date | null {
  if (value === null || value === undefined) return null;
  return value instanceof Date ? value : new Date(String(value));
}
