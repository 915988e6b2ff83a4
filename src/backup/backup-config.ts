import { resolve as resolvePath } from 'node:path';
import { isPlainObject, optionalBoolean, optionalInteger, optionalString, rejectUnknownKeys, describe } from '../config/config-checks.js';
import { ConfigurationError } from '../errors/index.js';
import { validateRetention, type RetentionPolicy } from './retention-policy.js';

/** The seed's `BackupConfig`, plus options. */
export interface BackupConfig {
  type: 'full' | 'incremental' | 'differential';
  /** Repository directory; each database gets its own repository below it (`DESTINATION/<database id>`). */
  destination: string;
  /** zstd (true) or none. */
  compression: boolean;
  /**
   * true: the repository key is wrapped by the passphrase from $DATAKEEP_REPO_PASSPHRASE or `passphraseFile`
   * ($DATAKEEP_REPO_PASSPHRASE_FILE). false: a publicly known passphrase: objects stay authenticated (tampering and
   * corruption are detected) but anyone with the repository can read them.
   */
  encryption: boolean;
  /** How many daily/weekly/monthly/yearly backups to keep (a missing count keeps none of that kind). */
  retention: { daily?: number; weekly?: number; monthly?: number; yearly?: number; timeZone?: string };
  /** Cron expression for setupBackups (five fields, or six with seconds). */
  schedule?: string;
  /** Time zone of `schedule` and of the retention calendar (default UTC). */
  timeZone?: string;
  /** Which databases (ids); default every database that has a backup driver. */
  databases?: string[];
  passphraseFile?: string;
  /** Parallel file workers per backup (default: CPUs, at least 2). */
  workers?: number;
  /** Ticks missed while no datakeep ran: run the latest once at start (default) or skip them. */
  missedRunPolicy?: 'run-once' | 'skip';
  /** Seconds to wait for the archiver to push a backup's WAL (default 120). */
  walTimeout?: number;
}

export interface ResolvedBackupConfig {
  readonly type: BackupConfig['type'];
  readonly destination: string;
  readonly compression: boolean;
  readonly encryption: boolean;
  readonly retention: RetentionPolicy;
  readonly schedule: string | undefined;
  readonly timeZone: string;
  readonly databases: readonly string[] | undefined;
  readonly passphraseFile: string | undefined;
  readonly workers: number | undefined;
  readonly missedRunPolicy: 'run-once' | 'skip';
  readonly walTimeoutMs: number;
}

const KEYS = ['type', 'destination', 'compression', 'encryption', 'retention', 'schedule', 'timeZone', 'databases', 'passphraseFile', 'workers', 'missedRunPolicy', 'walTimeout'];

/** Validates a BackupConfig in one place; every error names the field and the fix. */
export function resolveBackupConfig(input: unknown, field = 'backupConfig'): ResolvedBackupConfig {
  if (!isPlainObject(input)) throw new ConfigurationError(field, `expected an object, got ${describe(input)}`, 'Give {type, destination, compression, encryption, retention}');
  rejectUnknownKeys(input, KEYS, field);
  const type = optionalString(input, 'type', field) ?? 'full';
  if (!['full', 'incremental', 'differential'].includes(type)) {
    throw new ConfigurationError(`${field}.type`, `"${type}" is not a backup type`, 'Use full, differential or incremental');
  }
  const destination = optionalString(input, 'destination', field);
  if (!destination) throw new ConfigurationError(`${field}.destination`, 'is missing', 'Give the repository directory, e.g. "./backups"');
  const timeZone = optionalString(input, 'timeZone', field) ?? 'UTC';
  const retentionInput = input.retention === undefined ? { daily: 7 } : input.retention;
  const retention = validateRetention(isPlainObject(retentionInput) && retentionInput.timeZone === undefined ? { ...retentionInput, timeZone } : retentionInput, `${field}.retention`);
  let databases: string[] | undefined;
  if (input.databases !== undefined) {
    if (!Array.isArray(input.databases) || input.databases.some((d) => typeof d !== 'string')) {
      throw new ConfigurationError(`${field}.databases`, 'expected an array of database ids', 'Give e.g. ["postgresql-localhost-app_db"], or leave it out for every database');
    }
    databases = input.databases as string[];
  }
  const missed = optionalString(input, 'missedRunPolicy', field) ?? 'run-once';
  if (missed !== 'run-once' && missed !== 'skip') throw new ConfigurationError(`${field}.missedRunPolicy`, `"${missed}" is not a policy`, 'Use "run-once" or "skip"');
  return Object.freeze({
    type: type as BackupConfig['type'],
    destination: resolvePath(destination),
    compression: optionalBoolean(input, 'compression', field) ?? true,
    encryption: optionalBoolean(input, 'encryption', field) ?? true,
    retention,
    schedule: optionalString(input, 'schedule', field),
    timeZone,
    databases,
    passphraseFile: optionalString(input, 'passphraseFile', field),
    workers: optionalInteger(input, 'workers', field, 1, 256),
    missedRunPolicy: missed,
    walTimeoutMs: (optionalInteger(input, 'walTimeout', field, 1, 86_400, ' (seconds)') ?? 120) * 1000,
  });
}
