import type { StatementStatsPart, StatementStat } from '../../monitoring/statement-stats-part.js';
import { QueryError } from '../../errors/index.js';
import { asSqlAdapter } from '../sql/as-sql-adapter.js';

const SETUP = 'add pg_stat_statements to shared_preload_libraries (restart), then run CREATE EXTENSION pg_stat_statements in this database';

/** Column names of pg_stat_statements 1.8+ (PostgreSQL 13+) and of the older versions. */
const COLUMNS = [
  { total: 'total_exec_time', mean: 'mean_exec_time' },
  { total: 'total_time', mean: 'mean_time' },
] as const;

/** Statements of this database only: the view holds every database's, and another's texts are not ours to show. */
function statementSql(columns: (typeof COLUMNS)[number]): string {
  return `SELECT s.query, s.calls::float8 AS calls, s.${columns.total}::float8 AS total_ms, s.${columns.mean}::float8 AS mean_ms,
                 s.rows::float8 AS rows, 100 * s.${columns.total} / NULLIF(sum(s.${columns.total}) OVER (), 0) AS percent
            FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
           WHERE d.datname = current_database()
           ORDER BY s.${columns.total} DESC
           LIMIT ?`;
}

type StatementRow = {
  query: string;
  calls: number;
  total_ms: number;
  mean_ms: number;
  rows: number;
  percent: number | null;
};

const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;

/** pg_stat_statements, when the extension is installed in the adapter's database and loaded by the server. */
export const postgresStatementStats: StatementStatsPart = {
  async slowest(adapter, limit) {
    const sql = asSqlAdapter(adapter);
    const [installed] = await sql.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_extension WHERE extname = 'pg_stat_statements'");
    if (!installed || installed.n === 0) {
      return { available: false, reason: `the pg_stat_statements extension is not installed in this database: ${SETUP}` };
    }
    for (const columns of COLUMNS) {
      try {
        const rows = await sql.query<StatementRow>(statementSql(columns), [limit]);
        const statements: StatementStat[] = rows.map((r) => ({
          query: r.query,
          calls: r.calls,
          totalMs: round(r.total_ms, 3),
          meanMs: round(r.mean_ms, 3),
          rows: r.rows,
          percentOfTotal: round(r.percent ?? 0, 1),
        }));
        return { available: true, source: 'pg_stat_statements', statements };
      } catch (error) {
        // 42703: the column names of the other extension version; try those.
        if (error instanceof QueryError && error.sqlState === '42703') continue;
        // 55000: installed but not loaded ("must be loaded via shared_preload_libraries").
        if (error instanceof QueryError && error.sqlState === '55000') {
          return { available: false, reason: `pg_stat_statements is installed but the server did not load it: ${SETUP}` };
        }
        throw error;
      }
    }
    return { available: false, reason: 'this pg_stat_statements version has neither total_exec_time nor total_time' };
  },
};
