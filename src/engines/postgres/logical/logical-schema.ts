// The catalog description a logical backup stores (schema.json) and a restore replays: per table, so that a restore
// of some tables takes only their statements. Read from the catalogs (read-logical-schema.ts), identically on a
// PostgreSQL server and on PGlite, which has no pg_dump.

export interface LogicalSequence {
  /** Quoted, qualified. */
  readonly name: string;
  readonly create: string;
  /** The value to set after the data (setval), null when the sequence was never used. */
  readonly lastValue: string | null;
  /** The table whose column owns it (OWNED BY, SERIAL) or whose default uses it. */
  readonly tables: readonly string[];
  /** OWNED BY, run once its table exists. */
  readonly ownedBy: string | undefined;
}

export interface LogicalStatement {
  readonly sql: string;
  /** 'key': primary keys, unique and exclusion constraints, indexes; 'check'; 'foreign-key' (run last). */
  readonly kind: 'key' | 'check' | 'foreign-key';
  /** A foreign key's referenced table (quoted, qualified). */
  readonly references?: string;
}

export interface LogicalTable {
  /** Quoted, qualified: "public"."orders". */
  readonly name: string;
  readonly schema: string;
  readonly table: string;
  /** 'r' a table with rows; 'p' a partitioned table (its rows are in its partitions). */
  readonly kind: 'r' | 'p';
  readonly parent: string | undefined;
  readonly create: string;
  /** Quoted columns COPY moves (generated columns are computed again on restore). */
  readonly columns: readonly string[];
  readonly pages: number;
  /**
   * Set once its data is stored: the backup's files that hold its rows in COPY text format, one per slice of its
   * pages (a large table is copied and restored by several sessions at once).
   */
  files?: string[];
  rows?: number;
  readonly after: readonly LogicalStatement[];
  /** Identity columns' sequences: [column, last value] set with setval after the data. */
  readonly identities: readonly { readonly column: string; readonly lastValue: string | null }[];
}

export interface LogicalSchema {
  readonly formatVersion: 1;
  readonly serverVersion: string;
  readonly schemas: readonly string[];
  /** Enum types the tables use: name and CREATE TYPE. */
  readonly types: readonly { readonly name: string; readonly create: string }[];
  readonly sequences: readonly LogicalSequence[];
  /** Parents before their partitions. */
  readonly tables: LogicalTable[];
}
