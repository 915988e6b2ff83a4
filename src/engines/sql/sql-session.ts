import type { Row } from '../../adapters/database-adapter.js';

/** The result of one statement on a session, in the shape every SQL engine can produce. */
export interface StatementResult {
  rows: Row[];
  rowCount: number;
  /** The command tag when the engine reports one (PostgreSQL: "COMMIT" vs "ROLLBACK" after COMMIT). */
  command?: string;
}

/**
 * The engine-specific half of a SQL adapter: how to get a dedicated session and run a statement on it. The shared
 * half (placeholders, transactions, savepoints, retries, metrics) lives in SqlAdapterBase.
 */
export interface SqlSessionDriver<S> {
  /** A session that no other caller uses until `release`. Throws datakeep errors (already mapped). */
  acquire(): Promise<S>;
  /** `broken` destroys the session instead of returning it to the pool. */
  release(session: S, broken: boolean): void;
  /** Runs one statement; throws the driver's raw error (the base maps it). */
  run(session: S, text: string, params: readonly unknown[] | undefined): Promise<StatementResult>;
  /** Runs SQL text with several statements and no parameters (PostgreSQL's simple query protocol). */
  runScript(session: S, text: string): Promise<void>;
  /**
   * Runs `leading` (no parameters) and then one statement in one round trip, where an error skips the rest; only
   * engines whose protocol allows it (PostgreSQL's extended protocol with one Sync). Throws the driver's raw error.
   */
  runAfter?(session: S, leading: readonly string[], text: string, params: readonly unknown[] | undefined): Promise<StatementResult>;
}
