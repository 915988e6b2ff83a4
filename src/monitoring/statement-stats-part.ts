import type { DatabaseAdapter } from '../adapters/database-adapter.js';

/** One normalised statement's totals since the engine's statistics were last reset (PgHero's "queries" view). */
export interface StatementStat {
  /** The statement text as the engine normalised it (constants replaced by $1, $2, ...): never parameter values. */
  readonly query: string;
  readonly calls: number;
  /** Execution time summed over every call, in milliseconds. */
  readonly totalMs: number;
  readonly meanMs: number;
  readonly rows: number;
  /** Share of the database's total statement time, 0..100. */
  readonly percentOfTotal: number;
}

export type StatementStats =
  | { readonly available: true; readonly source: string; readonly statements: readonly StatementStat[] }
  /** Why there are no statistics, and how to get them (extension missing, engine without them). */
  | { readonly available: false; readonly reason: string };

/** The engine's statement statistics (PostgreSQL: pg_stat_statements). An engine without them offers no such part. */
export interface StatementStatsPart {
  /** The statements that took the most execution time in total, most first; never throws for missing statistics. */
  slowest(adapter: DatabaseAdapter, limit: number): Promise<StatementStats>;
}
