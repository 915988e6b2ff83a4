import type { Connection } from 'mariadb';
import type { MariadbStatementResult } from './normalize-mariadb-result.js';

/**
 * What the XA primitives need from the adapter that owns the pool: sessions through its circuit breaker and retries,
 * and statements that are mapped, normalised and counted in its metrics like every other statement.
 */
export interface MariadbXaHost {
  readonly adapterId: string;
  /** A dedicated pooled session (throws datakeep errors). */
  acquire(): Promise<Connection>;
  /** `broken` disconnects the session instead of returning it to the pool. */
  release(session: Connection, broken: boolean): void;
  /**
   * Runs one statement and throws mapped datakeep errors. `commitLabel` marks a statement whose lost connection leaves
   * its outcome unknown (XA PREPARE, XA COMMIT), and names it in the error.
   */
  /** Resolves once the server no longer lists the session with this thread id (bounded by the connect timeout). */
  waitForSessionEnd(threadId: number): Promise<void>;
  run(session: Connection, text: string, params: readonly unknown[] | undefined, commitLabel?: string): Promise<MariadbStatementResult>;
}
