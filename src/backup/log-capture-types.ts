import type { DatabaseAdapter } from '../adapters/database-adapter.js';
import type { ResolvedDatabaseConfig } from '../config/database-config.js';
import type { Repository } from '../repository/repository-types.js';

/** Where a continuous log capture stands, as its engine reports it after each piece stored (or each idle check). */
export interface LogCaptureProgress {
  /** The position in the engine's log stored last: Redis `<replid>:<offset>`, MongoDB `<t>.<i>`, MariaDB `<binlog file>:<offset>`. */
  readonly position: string;
  /** Everything the server wrote up to this instant is in the repository (the capture's lag is now minus this). */
  readonly coveredUntil: Date;
  /** Log pieces (segments, slices) this run stored so far. */
  readonly stored: number;
  /** Something an operator should know (a new snapshot after the server lost the stream, a gap). */
  readonly note?: string;
}

/** What a driver's captureLog gets (BackupDriver.captureLog). */
export interface LogCaptureInput {
  readonly adapter: DatabaseAdapter;
  readonly config: ResolvedDatabaseConfig;
  readonly repository: Repository;
  /** The database id the repository's backups carry. */
  readonly database: string;
  /** How often what arrived is stored: the writes at risk when datakeep dies. Undefined: the engine's default. */
  readonly intervalMs: number | undefined;
  readonly signal: AbortSignal;
  readonly onProgress: (progress: LogCaptureProgress) => void;
}
