import { backupConfigSchema, type BackupConfig } from '../config/backups-schema.js';
import { parseConfig } from '../config/parse-config.js';
import type { RetentionPolicy } from './retention-policy.js';

export type { BackupConfig } from '../config/backups-schema.js';

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
  readonly method: 'physical' | 'logical' | undefined;
  readonly tables: readonly string[] | undefined;
  /** Continuous log capture by the service (BackupConfig.logCapture); intervalMs undefined: the engine's default. */
  readonly logCapture: { readonly enabled: boolean; readonly intervalMs: number | undefined };
}

/** Validates a BackupConfig with the backups schema (src/config/backups-schema.ts); every error names the field and the fix. */
export function resolveBackupConfig(input: unknown, field = 'backupConfig'): ResolvedBackupConfig {
  return Object.freeze(parseConfig(backupConfigSchema, input, field));
}

/** The `backups.logCapture` setting of a configuration file's section (already checked by its schema), defaults filled in. */
export function logCaptureSetting(section: Partial<BackupConfig> | undefined): ResolvedBackupConfig['logCapture'] {
  const given = section?.logCapture;
  if (given === undefined || typeof given === 'boolean') return { enabled: given ?? true, intervalMs: undefined };
  return { enabled: given.enabled ?? true, intervalMs: given.intervalSeconds === undefined ? undefined : given.intervalSeconds * 1000 };
}
