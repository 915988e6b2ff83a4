// The seam between the shared logical backup/restore (this folder) and the two engines that implement it: a
// PostgreSQL server over node-postgres, and the embedded PGlite (src/engines/pglite/pglite-logical.ts).
import type { Readable } from 'node:stream';
import type { Row } from '../../../adapters/database-adapter.js';

/** One table's data as COPY sees it: the quoted qualified name and the quoted columns (generated ones left out). */
export interface TableCopy {
  readonly name: string;
  readonly columns: readonly string[];
  /** The table's pages (pg_relation_size / block size) at the snapshot: lets a session copy in bounded slices. */
  readonly pages: number;
  /** Only the rows in these pages (a TID range scan); `to` undefined: to the end. Absent: the whole table. */
  readonly slice?: { readonly from: number; readonly to: number | undefined };
}

/** The rows of `table` that lie in its slice, as a SELECT (a TID range scan: PostgreSQL 14 and later). */
export function sliceQuery(table: TableCopy, slice: { from: number; to: number | undefined }): string {
  const upper = slice.to === undefined ? '' : ` AND ctid < '(${slice.to},0)'::tid`;
  return `SELECT ${table.columns.join(', ')} FROM ${table.name} WHERE ctid >= '(${slice.from},0)'::tid${upper}`;
}

/**
 * A table's rows leaving by COPY. `rowCount` is what the database reported in COPY's command tag, known once the
 * stream has ended: counting newlines as the text passes cost a stream stage and a scan of every byte on the thread
 * that also reads the socket.
 */
export interface CopyOutStream extends Readable {
  readonly rowCount: number | undefined;
}

/** A session of the source or the target: SQL, and COPY in PostgreSQL's text format. */
export interface LogicalSession {
  query<T extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /** Several statements, as written. */
  script(sql: string): Promise<void>;
  /**
   * The table's rows in COPY text format, streamed (never the whole table in memory); `onBytes` hears of them as they
   * leave, in pieces of some hundred KiB.
   */
  copyOut(table: TableCopy, onBytes?: (bytes: number) => void): CopyOutStream;
  /** Loads rows in COPY text format; resolves once the database has accepted all of them. */
  copyIn(table: TableCopy, rows: Readable): Promise<void>;
}

/**
 * A read-only snapshot of the source: `session` is the transaction that exported it, `worker` runs `fn` on a session
 * that sees exactly the same snapshot (a server opens up to `workers` of them; PGlite has one session, so its workers
 * are the snapshot's own session, one at a time).
 */
export interface LogicalSnapshot {
  readonly session: LogicalSession;
  readonly workers: number;
  worker<T>(fn: (session: LogicalSession) => Promise<T>): Promise<T>;
  /** Ends every transaction of the snapshot (read only: nothing to commit) and closes the sessions it opened. */
  close(): Promise<void>;
}

/** Where a logical restore writes: one session for DDL, and up to `workers` parallel ones for COPY. */
export interface LogicalTarget {
  /** Names the target in messages and results (never with a password). */
  readonly description: string;
  readonly workers: number;
  session<T>(fn: (session: LogicalSession) => Promise<T>): Promise<T>;
  /** Closes the sessions; `failed`: the restore did not finish, so a database the target created for it goes too. */
  close(failed: boolean): Promise<void>;
}
