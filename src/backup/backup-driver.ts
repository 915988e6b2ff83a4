import type { DatabaseAdapter } from '../adapters/database-adapter.js';
import type { ResolvedDatabaseConfig } from '../config/database-config.js';
import type { BackupSummary, BackupType, Repository, VerifyProblem } from '../repository/repository-types.js';
import type { DrillChecks, DrillRunResult } from './drill-types.js';
import type { LogCaptureInput } from './log-capture-types.js';
import type { BackupMethod, BackupProgress, DatabaseBackupResult, RecoverabilityWindow, RestoreOptions, RestoreResult, RestoreTarget } from './backup-types.js';

/** A database the backup manager asks a driver to back up. */
export interface BackupSource {
  readonly adapter: DatabaseAdapter;
  readonly config: ResolvedDatabaseConfig;
  /** The method asked for (default: the driver's own: physical where the engine has it). */
  readonly method?: BackupMethod;
}

/** A source the driver has looked at: how it will be copied, and who must own a new repository for it. */
export interface PreparedBackup {
  /** The OS user that must own a new repository (the server's archiver writes into it), when datakeep runs as root. */
  readonly repositoryOwner: { readonly uid: number; readonly gid: number } | undefined;
  backup(repository: Repository, options: { type: BackupType; workers: number | undefined; walTimeoutMs: number; onProgress: (progress: BackupProgress) => void; signal?: AbortSignal; tables?: readonly string[] }): Promise<Omit<DatabaseBackupResult, 'database' | 'requestedType' | 'repository'>>;
}

/** What a restore needs from the manager: the repository found, where restores go, and the passphrase. */
export interface RestoreRequest {
  readonly repository: Repository;
  readonly repositoryPath: string;
  readonly destination: string;
  readonly database: string;
  readonly backupId: string | undefined;
  readonly options: RestoreOptions;
  readonly passphrase: string;
  /** The passphrase file from the call or the backup configuration, when there is one. */
  readonly passphraseFile: string | undefined;
}

/** The log archive of one database now (validateSystem's WAL check and the `datakeep_wal_archive_*` metrics). */
export interface LogArchiveStatus {
  /** False when the server does not archive its log (PostgreSQL's archive_mode is off). */
  readonly archiving: boolean;
  /** The server's archiver (PostgreSQL: pg_stat_archiver); undefined when the server could not be asked. */
  readonly archiver: {
    readonly lastArchived: string | undefined;
    readonly lastArchivedAt: Date | undefined;
    readonly lastFailed: string | undefined;
    readonly lastFailedAt: Date | undefined;
    /** Failed attempts since the server's statistics were reset. */
    readonly failures: number;
  } | undefined;
  /** The log file the server writes now (undefined on a standby, or when the server could not be asked). */
  readonly current: string | undefined;
  /** The last file of the unbroken archived run that starts at the newest backup; undefined before any backup. */
  readonly archivedEnd: string | undefined;
  /** Files the server finished after `archivedEnd` that the repository lacks (a few are normal while the archiver catches up). */
  readonly behind: number | undefined;
  /** A hole after the newest backup: the first missing file, and how many later ones are archived (recovery stops at it). */
  readonly gap: { readonly missing: string; readonly laterArchived: number } | undefined;
}

/**
 * An engine's backups (the `backup` part of its definition): how it copies a live database into a repository, and
 * everything that reads its log (WAL, binlog, oplog, command stream) back: restore with recovery targets, the
 * recoverability window, log verification and expiry, restore drills. The manager does the rest: repositories,
 * passphrases, retention decisions, schedules, audit.
 */
export interface BackupDriver {
  /** Recorded as `engine` in every backup's metadata, so that restore finds the driver from the repository alone. */
  readonly engine: string;
  /** Looks at the source (where its data is, who owns it) before the repository is opened. */
  prepare(source: BackupSource): Promise<PreparedBackup>;
  restore(request: RestoreRequest): Promise<RestoreResult>;
  /** Reads and authenticates the log after `summary` up to the end of the unbroken archive. */
  verifyLog(repository: Repository, summary: BackupSummary): Promise<{ segments: number; endsAt: string | undefined; problem: VerifyProblem | undefined }>;
  window(repository: Repository, database: string, options: { timeline?: number }): Promise<RecoverabilityWindow>;
  /** Deletes archived log segments older than `before` (the first segment a kept backup needs); returns how many. */
  expireLog(repository: Repository, before: string): Promise<number>;
  /** Where the server's log archiving stands and whether the repository's archive is whole; absent: no log archive. */
  archiveStatus?(input: { adapter: DatabaseAdapter; repository: Repository; database: string }): Promise<LogArchiveStatus>;
  /**
   * Continuous capture of the engine's log into the repository (Redis: the replication stream, MongoDB: the oplog,
   * MariaDB: the binlog), for point-in-time restores between backups. Runs until `signal` aborts, stores what arrived,
   * and resolves; throws when the capture cannot go on (server gone, log rolled past the position): the caller starts
   * it again, and it continues from the newest position the repository holds. Absent: the engine's log reaches the
   * repository another way (PostgreSQL's archive_command) or not at all.
   */
  captureLog?(input: LogCaptureInput): Promise<void>;
  /** One restore drill: restore through `restore`, start, check, remove. */
  drill(input: {
    kind: DrillRunResult['kind']; target?: Date; checks: DrillChecks | undefined;
    /** `into`: a live database for a logical backup's drill (instead of a directory and a port). */
    restore: (to: string, port: number, into?: RestoreTarget) => Promise<{ backupId: string }>;
    /** The window drilled (its `method` says whether the newest backup is logical). */
    window?: RecoverabilityWindow;
    /** DrillOptions.target: the server for a logical drill's scratch database (default: an embedded one). */
    server?: RestoreTarget;
  }): Promise<DrillRunResult>;
}
