import type { DatabaseAdapter, TransactionContext } from '../adapters/database-adapter.js';

/** `sql` files, `module` (.ts/.js exporting up/down), `repeatable` (R__name.sql, re-applied when changed). */
export type MigrationKind = 'sql' | 'module' | 'repeatable' | 'baseline';
export type MigrationStatus = 'running' | 'applied' | 'failed' | 'rolled_back';

export interface SqlPart {
  readonly sql: string;
  /** False when the file says `-- migrate:up transaction:false`. */
  readonly transaction: boolean;
}

/** What a module migration receives. `tx` is set when the migration runs in a transaction (SQL targets). */
export interface MigrationContext {
  readonly adapter: DatabaseAdapter;
  readonly tx: TransactionContext | undefined;
  readonly version: string;
  log(message: string): void;
}

export interface MigrationModule {
  up(ctx: MigrationContext): Promise<void> | void;
  down?(ctx: MigrationContext): Promise<void> | void;
  /** `export const transaction = false` runs the module outside a transaction. */
  transaction?: boolean;
}

/** One migration file as found on disk, checksummed, not yet loaded (modules are imported only when they run). */
export interface MigrationFile {
  /** Digits for versioned migrations (YYYYMMDDHHMMSS by convention); `R__name` for repeatable ones. */
  readonly version: string;
  readonly name: string;
  readonly kind: Exclude<MigrationKind, 'baseline'>;
  readonly path: string;
  /** `sha256-nl:<hex>`: SHA-256 of the text with BOM removed and line endings normalised to LF. */
  readonly checksum: string;
  /** For SQL files; undefined for modules. */
  readonly up: SqlPart | undefined;
  readonly down: SqlPart | undefined;
  /** For modules: whether a `down` export exists is known only after import; the text is searched for it. */
  readonly hasDown: boolean;
}

/** One appended history record (the history is append-only: the newest record of a version is its state). */
export interface HistoryRecord {
  readonly id: number;
  readonly version: string;
  readonly name: string;
  readonly kind: MigrationKind;
  readonly checksum: string | null;
  readonly status: MigrationStatus;
  readonly startedAt: Date;
  readonly finishedAt: Date | null;
  readonly durationMs: number | null;
  readonly appliedBy: string;
  readonly datakeepVersion: string;
  readonly error: string | null;
}

export type NewHistoryRecord = Omit<HistoryRecord, 'id'>;

export type { MigrationsConfig } from '../config/migrations-schema.js';

export interface ExecutedMigration {
  readonly database: string;
  readonly version: string;
  readonly name: string;
  readonly kind: MigrationKind;
  readonly durationMs: number;
}

export interface MigrateResult {
  /** The seed reads `result.migrationsExecuted.length`. */
  readonly migrationsExecuted: ExecutedMigration[];
  /** Versions already applied, per database, before this run. */
  readonly alreadyApplied: Record<string, number>;
  readonly warnings: string[];
}

export interface RollbackResult {
  readonly migrationsRolledBack: ExecutedMigration[];
}

export interface ValidationIssue {
  readonly database: string;
  readonly kind: 'changed' | 'missing' | 'unknown' | 'failed' | 'interrupted';
  readonly version: string;
  readonly name: string;
  readonly message: string;
}

export interface ValidationReport {
  readonly valid: boolean;
  readonly issues: ValidationIssue[];
  readonly checked: number;
}

export interface PlannedMigration {
  readonly database: string;
  readonly version: string;
  readonly name: string;
  readonly kind: MigrationKind;
  readonly direction: 'up' | 'down';
  readonly transaction: boolean;
  /** SQL text for SQL migrations; undefined for modules. */
  readonly sql: string | undefined;
  readonly warnings: string[];
}

export interface MigrationStatusEntry {
  readonly database: string;
  readonly version: string;
  readonly name: string;
  readonly kind: MigrationKind;
  /** `pending` when the database has no record; `changed` when applied and the file's checksum differs. */
  readonly state: MigrationStatus | 'pending' | 'missing-file' | 'baselined';
  readonly changed: boolean;
  /** True when `migrate up` would run it: never run, failed, rolled back or interrupted; a changed repeatable file. */
  readonly pending: boolean;
  readonly appliedAt: Date | null;
  readonly durationMs: number | null;
}
