// The shapes the backup manager and every engine's backup driver exchange, and what the public API returns.
import type { PruneResult, VerifyReport } from '../repository/repository-types.js';
import type { BackupConfig } from './backup-config.js';

/** A wait for WAL segments to reach the repository's archive, as reported while it lasts (at least once a second). */
export interface WalWaiting {
  /** The first segment still missing. */
  readonly segment: string;
  /** Whole seconds waited so far. */
  readonly seconds: number;
  /** Segments of the wait already in the repository. */
  readonly archived: number;
  readonly total: number;
}

export interface BackupProgress {
  /** The id the backup will have once complete (known from the start, for progress displays and logs). */
  readonly backupId: string;
  /**
   * 'checking-archive' comes before anything is copied: one freshly switched WAL segment must reach the repository,
   * which proves that archive_command feeds it.
   */
  readonly phase: 'starting' | 'checking-archive' | 'copying' | 'waiting-for-wal' | 'completing';
  readonly filesTotal: number;
  readonly filesDone: number;
  readonly filesReused: number;
  /**
   * Plaintext bytes of all the files, as far as known: the data directory's file sizes at the walk, corrected as each
   * file is read (files grow and shrink while the server runs); over the replication protocol, the server's estimate.
   * 0 while unknown.
   */
  readonly bytesTotal: number;
  /** Plaintext bytes of the files done so far (reused files count with their size). */
  readonly bytesDone: number;
  readonly bytesStored: number;
  /** In phases 'checking-archive' and 'waiting-for-wal': what is waited for, and since when. */
  readonly walWaiting?: WalWaiting;
}


/** Progress of a restore, as its engine's driver reports it. */
export interface RestoreProgress {
  readonly phase: 'planning' | 'checking-wal' | 'verifying' | 'writing' | 'starting' | 'done';
  readonly filesTotal: number;
  readonly filesDone: number;
  readonly bytesTotal: number;
  readonly bytesDone: number;
  /** While checking WAL: segments read and authenticated so far. */
  readonly walChecked?: number;
}

/**
 * The span of instants a point-in-time restore of one database can reach, from the repository alone. Positions are
 * in the engine's log (PostgreSQL: LSNs and WAL segments; `timeline` 1 where the engine has no timelines).
 */
export interface RecoverabilityWindow {
  readonly database: string;
  readonly timeline: number;
  /** The oldest backup's consistency point: no restore can stop earlier. */
  readonly from: { readonly time: string; readonly lsn: string | undefined; readonly backupId: string } | undefined;
  /**
   * The last transaction end (commit or abort) in the unbroken archive after the oldest backup: a time target must lie
   * before it, since PostgreSQL stops at the first transaction end past the target. `lsn` is where the archived WAL ends.
   */
  readonly to: { readonly time: string | undefined; readonly lsn: string; readonly segment: string } | undefined;
  /** The first missing segment after the archived run (replay ends there); undefined for an empty archive. */
  readonly firstMissingWal: string | undefined;
  readonly backups: number;
  /**
   * Logical backups (snapshots of chosen tables): each restores to its snapshot instant only, no log replays after
   * it. With no physical backup, `from` is the oldest snapshot and `to` is undefined.
   */
  readonly snapshots?: readonly { readonly backupId: string; readonly time: string }[];
  /** How the newest backup was taken (what a restore without a backup id or recovery target restores). */
  readonly method?: BackupMethod;
}

/**
 * physical: the data directory plus the log (PITR, incremental); logical: schema and rows of chosen tables as of one
 * snapshot, restored table by table into a live database (always full).
 */
export type BackupMethod = 'physical' | 'logical';

/**
 * A live database a logical restore writes into: a connection URL of the engine (postgres://host/db, pglite:DIR,
 * mongodb://..., redis://..., mysql://...) or the same fields as a database configuration. Passwords in it are never
 * logged or recorded.
 */

export interface DatabaseBackupResult {
  readonly database: string;
  readonly backupId: string;
  readonly type: BackupConfig['type'];
  /** Differs from `type` when no base existed (an incremental without a full becomes a full, as in pgBackRest). */
  readonly requestedType: BackupConfig['type'];
  readonly method: 'data-directory' | 'replication-protocol' | 'logical';
  readonly repository: string;
  readonly sizeBytes: number;
  readonly storedBytes: number;
  readonly startedAt: Date;
  readonly finishedAt: Date;
  readonly walSegments: number;
  /** The instant the backup is consistent at (a restore without a target lands there), when the driver knows it. */
  readonly consistentAt?: Date;
}

/** What the seed's `createBackup` returns: the first database's figures at the top, every database below. */
export interface CreateBackupResult {
  readonly backupId: string;
  /** The backup set of this run: one member per database (`datakeep backup list`, `restoreBackup(setId)`). */
  readonly setId: string;
  readonly type: BackupConfig['type'];
  readonly startedAt: Date;
  readonly finishedAt: Date;
  readonly sizeBytes: number;
  readonly storedBytes: number;
  readonly databases: readonly DatabaseBackupResult[];
  readonly skipped: readonly { database: string; reason: string }[];
  readonly expired: readonly ExpireResult[];
}

export interface ExpireResult {
  readonly database: string;
  readonly dryRun: boolean;
  readonly expired: readonly string[];
  readonly kept: readonly { backupId: string; reasons: string[] }[];
  readonly walRemoved: number;
  readonly prune?: PruneResult;
  /** The point-in-time recovery window left after this decision: from the oldest kept backup's consistency point. */
  readonly window: { readonly from: string | undefined; readonly requestedMs: number; readonly short: boolean; readonly description: string };
}

export interface RestoreOptions {
  /**
   * Recovery targets (at most one). A time is a `Date`, ISO 8601 with `Z` or an offset, or PostgreSQL's form with an
   * offset ('2026-11-28 14:05:00+00'); a time without a zone needs `timeZone`. Without a backup id, the newest backup
   * consistent before the target is the base.
   */
  targetTime?: Date | string;
  /** IANA zone for a targetTime written without one. */
  timeZone?: string;
  targetLsn?: string;
  targetName?: string;
  /** Stop just after the target (default) or just before it. */
  targetInclusive?: boolean;
  /** Timeline to recover along: default the base backup's own; a number, or 'latest'. */
  targetTimeline?: number | 'latest';
  /** A new or empty directory (default: DESTINATION/restores/<backup id>-<time>); never a running cluster's. */
  to?: string;
  /**
   * Engines whose backups restore into a live server (MongoDB; Redis by DUMP/RESTORE of each key) write into `target`
   * instead of a directory (`to`): the server's URL (it carries the credentials) and the database in it; `replace`
   * overwrites what exists there (default: refuse before writing anything). Engines that restore only to a directory
   * refuse it.
   */
  target?: RestoreTarget;
  /** The database whose backup to restore (needed when several are backed up). */
  database?: string;
  /** Repository root (default: the destination of the last createBackup/setupBackups, or the config file's). */
  destination?: string;
  /** The port written into the restored configuration (default: start.port; the source's would collide). */
  port?: number;
  /** Start the restored server on this port and wait until it has recovered and promoted. */
  start?: { port: number };
  /**
   * A repository of its own for the restored server's WAL once it is promoted (default: archiving off). Never the
   * source's: its new timeline would mislead later restores. Needs `passphraseFile` readable by the server's OS user.
   */
  archiveTo?: string;
  /** The passphrase file (default: the backup config's passphraseFile, then DATAKEEP_REPO_PASSPHRASE(_FILE)). */
  passphraseFile?: string;
  /** Restore only the keys matching this glob (Redis `SCAN MATCH` syntax), into a directory or a live target. */
  keyPattern?: string;
  /** Only these tables (`schema.table` or `table`; a partitioned table brings its partitions) of a logical backup. */
  tables?: string[];
  /** Parallel sessions of a logical restore (default 2). */
  workers?: number;
  /** On failure keep what was written instead of removing it. */
  keepFailed?: boolean;
  /**
   * PostgreSQL physical restores: WAL segments restore_command fetches ahead into a spool in the data directory while
   * the server replays (pgBackRest's asynchronous archive-get). Default: the configuration's backups.walPrefetch,
   * else 8; 0 turns it off (each segment is then fetched when the server asks for it).
   */
  walPrefetch?: number;
  /** Argument names for error messages (the CLI passes its flags). */
  fields?: { time?: string; lsn?: string; name?: string };
  /** Aborting stops the restore and removes what it wrote. */
  signal?: AbortSignal;
  onProgress?: (progress: RestoreProgress) => void;
}

/** A live server to restore into (RestoreOptions.target). */
/**
 * A live server to restore into (RestoreOptions.target): its connection URL, or the URL with the database to write
 * into and whether to replace what is there. A PostgreSQL logical restore also takes `pglite:DIR` (an embedded one).
 */
export type RestoreTarget = string | RestoreTargetSpec;

export interface RestoreTargetSpec {
  /** Connection URL (mongodb://, redis://, mysql://...). A password in it never reaches logs, errors or results. */
  readonly url: string;
  /** The database (MongoDB database, MariaDB schema, Redis db number) to write into; default: the backed-up one's. */
  readonly database?: string;
  /** Drop what the restore would write over (collections, tables, keys) instead of refusing; default false. */
  readonly replace?: boolean;
}

export interface RestoreResult {
  readonly backupId: string;
  /** Set when the base is an ancestor of the backup asked for (the target lies before the latter's consistency). */
  readonly note: string | undefined;
  readonly database: string;
  readonly to: string;
  readonly timeline: number;
  readonly target: string | undefined;
  readonly started: boolean;
  readonly walSegmentsChecked: number;
  readonly recoverySettings: readonly string[];
  /** The command that starts the restored server (when `start` was not asked for). */
  readonly startCommand: string;
  /** A logical restore: the tables restored (into `to`, the target's description). */
  readonly tables?: readonly string[];
  /** A backup set's restore: its id, and every member's result (the fields above are the first member's). */
  readonly setId?: string;
  readonly members?: readonly RestoreResult[];
}

export interface BackupVerifyResult extends VerifyReport {
  /** WAL after the backup, read and authenticated, up to the end of the unbroken archive on its timeline. */
  readonly walSegmentsAfter: number;
  readonly walEndsAt: string | undefined;
}

export interface BackupRunOptions {
  onProgress?: (database: string, progress: BackupProgress) => void;
  /** Aborting stops the backup; the repository then shows no trace of it (its chunks are reclaimed by prune). */
  signal?: AbortSignal;
}

